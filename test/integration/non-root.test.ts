import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { removeRedisKeys, waitFor } from '../helpers/app.js';
import { tempDir, testPrefix } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

/**
 * The container runs as the unprivileged user `node` in a read-only /app (Dockerfile). Here the
 * server runs as `nobody` from this checkout, which nobody cannot write either: with DATA_DIR on a
 * writable path it starts; without one it says which variable to change (it used to die on EACCES).
 */
const NOBODY = 65534;
const canSwitch = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;


function asNobody(env: Record<string, string>) {
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, '--import', 'tsx', resolve('src/main.ts')], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, output: () => output };
}

describe.skipIf(!canSwitch)(`a non-root user${canSwitch ? '' : ' (skipped: needs root and setpriv to switch user)'}`, () => {
  let db: TestDatabase;
  let base: string;
  let home: string;
  const prefix = testPrefix();
  beforeAll(async () => {
    db = await createTestDatabase();
    base = tempDir('non-root');
    chmodSync(base, 0o755);
    // nobody's own temporary folder (tsx keeps its cache there).
    home = join(base, 'tmp');
    mkdirSync(home);
    chownSync(home, NOBODY, NOBODY);
  });
  afterAll(async () => {
    await removeRedisKeys(prefix);
    await db?.drop();
  });

  const env = (dataDir: string, port: number) => ({
    TMPDIR: home,
    DATA_DIR: dataDir,
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    AUTODEVHUB_QUEUE_PREFIX: prefix,
    PORT: String(port),
  });

  it('starts with DATA_DIR on a path it can write, and keeps its generated secret there', async () => {
    const dataDir = join(base, 'data');
    mkdirSync(dataDir);
    chownSync(dataDir, NOBODY, NOBODY);
    const port = await freePort();
    const server = asNobody(env(dataDir, port));
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 45_000, `the server to be ready: ${server.output()}`);
      expect(statSync(join(dataDir, 'secret')).uid).toBe(NOBODY);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited, server.output()).toBe(0);
  }, 60_000);

  it('refuses a DATA_DIR it cannot write, naming the variable', async () => {
    const readOnly = join(base, 'not-yours');
    mkdirSync(readOnly, { mode: 0o755 });
    const server = asNobody(env(readOnly, await freePort()));
    expect(await server.exited).toBe(78);
    expect(server.output()).toMatch(new RegExp(`DATA_DIR: ${readOnly} is not writable by this user \\(uid ${NOBODY}\\): EACCES`));
  }, 30_000);
});
