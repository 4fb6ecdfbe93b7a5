import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_PGLITE } from '../helpers/env.js';
import { openDatabase } from '../../src/core/db/orm.js';
import { migrationsList } from '../../src/core/db/migrations.js';
import { tempDir } from '../helpers/tmp.js';

/** `npm run migrate` as its own process; resolves with its exit code and output. */
function migrateProcess(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts'], {
      env: { ...process.env, DATABASE_URL: url, DATA_DIR: tempDir('migrate'), AUTODEVHUB_SECRET: 'x'.repeat(40), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

async function appliedMigrations(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ name: string }>('select name from mikro_orm_migrations order by id')).rows.map((r) => r.name);
  } finally {
    await c.end();
  }
}

// PGlite is a single Postgres session behind its socket: statements of all connections run one at
// a time and an advisory lock cannot exclude the same session, so this race exists only on a
// real Postgres (and the embedded database is claimed by one process: src/core/db/orm.ts).
describe.skipIf(TEST_PGLITE)(`migrations when web and worker start together${TEST_PGLITE ? ' (skipped: needs a real Postgres)' : ''}`, () => {
  const dbs: TestDatabase[] = [];
  afterEach(async () => {
    for (const db of dbs.splice(0)) await db.drop();
  });

  it('two processes migrating one empty database at the same moment both come up', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const [a, b] = await Promise.all([migrateProcess(db.url), migrateProcess(db.url)]);
    expect(a.code, a.output).toBe(0);
    expect(b.code, b.output).toBe(0);
    expect(a.output + b.output).toMatch(/0 pending migration/);
    expect(await appliedMigrations(db.url)).toEqual(migrationsList.map((m) => m.name));
  }, 60_000);

  it('four connection pools opening one empty database at once: one migrates, the others wait', async () => {
    for (let round = 0; round < 3; round++) {
      const db = await createTestDatabase();
      dbs.push(db);
      const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openDatabase({ databaseUrl: db.url, dataDir: tempDir('migrate'), poolMax: 2 })));
      for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
      expect(opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual(['ok', 'ok', 'ok', 'ok']);
      expect(await appliedMigrations(db.url)).toEqual(migrationsList.map((m) => m.name));
    }
  }, 60_000);
});
