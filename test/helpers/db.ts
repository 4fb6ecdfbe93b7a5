import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { TEST_PGLITE, TEST_POSTGRES_URL } from './env.js';
import { freePort } from './ports.js';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file, dropped afterwards: a fresh database on the real
 * Postgres, or (no Postgres answering, see test/setup/global.ts) a PGlite instance of its own
 * served over TCP by pglite-socket, as the app serves its embedded database.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  return TEST_PGLITE ? createPgliteDatabase() : createPostgresDatabase();
}

/** A fresh database on a real Postgres server, given the URL of one of its databases. */
export async function createPostgresDatabase(adminUrl = TEST_POSTGRES_URL): Promise<TestDatabase> {
  const name = `adh_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}


/** An empty cluster made once per test process: loading it takes ~2 s, making one ~10 s. */
let emptyCluster: Promise<Blob> | undefined;

async function createPgliteDatabase(): Promise<TestDatabase> {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-socket')]);
  emptyCluster ??= PGlite.create().then(async (first) => {
    const dump = await first.dumpDataDir('none');
    await first.close();
    return dump;
  });
  // In memory: nothing to clean up on disk.
  const db = await PGlite.create({ loadDataDir: await emptyCluster });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    // The app's pool and the test's own clients connect at once; PGlite runs one statement at a
    // time and keeps a transaction to the connection that opened it.
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 64 });
    try {
      await server.start();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 5) continue;
      throw err;
    }
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      async drop() {
        await server.stop();
        await db.close();
      },
    };
  }
}
