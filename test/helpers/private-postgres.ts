import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { findOnPath } from '../../src/jobs/local-redis.js';
import { freePort } from './ports.js';
import { tempDir } from './tmp.js';

/**
 * A throwaway Postgres server for the tests that need a real one (pg_dump and pg_restore speak
 * only to a server, never to PGlite) on a machine where none is running: `initdb` into a temporary
 * folder and `postgres` on a free loopback port, stopped and removed afterwards. As root the
 * server runs as the `postgres` system user (Postgres refuses to run as root).
 */
export interface PrivatePostgres {
  /** URL of the server's `postgres` database, for creating and dropping test databases. */
  adminUrl: string;
  stop(): Promise<void>;
}

const HOW = 'the Postgres server binaries (initdb, postgres; Debian: apt-get install postgresql)';

/** Where initdb and postgres live, or undefined when they are not installed. */
export function postgresBinDir(): string | undefined {
  const onPath = findOnPath('initdb');
  if (onPath) return join(onPath, '..');
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian).filter((v) => existsSync(join(debian, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(debian, versions[0]!, 'bin') : undefined;
}

/** Why a private server cannot be started here, or undefined when it can. */
export function privatePostgresMissing(): string | undefined {
  if (!postgresBinDir()) return `needs ${HOW}`;
  if (!findOnPath('pg_dump')) return 'needs pg_dump and pg_restore on PATH (Debian: apt-get install postgresql-client)';
  return undefined;
}

function runAs(): { uid: number; gid: number; user: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const user = 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return { uid, gid, user };
  } catch {
    throw new Error(`a private Postgres server cannot run as root, and there is no '${user}' user to run it as`);
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`a private Postgres server ${HOW}`);
  const owner = runAs();
  const root = tempDir('private-postgres');
  const data = join(root, 'data');
  mkdirSync(data, { mode: 0o700 });
  if (owner) {
    chownSync(root, owner.uid, owner.gid);
    chownSync(data, owner.uid, owner.gid);
  }
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...as, stdio: 'ignore', cwd: root });
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${root}`, '-c', 'fsync=off'],
    { ...as, stdio: 'ignore', cwd: root },
  );
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 20_000;
  while (!(await postgresAnswers(adminUrl))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the private Postgres server did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    adminUrl,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown
      await exited;
    },
  };
}

/** Whether a Postgres server answers a query at `url` (the suite's setup asks it too). */
export async function postgresAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * A database on a real Postgres server: the suite's own where one answers, else on a throwaway
 * server of its own (for tests that PGlite cannot serve: pg_dump, several processes at once).
 */
export async function createServerDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const { TEST_PGLITE } = await import('./env.js');
  const { createPostgresDatabase, createTestDatabase } = await import('./db.js');
  if (!TEST_PGLITE) return createTestDatabase();
  const server = await startPrivatePostgres();
  const db = await createPostgresDatabase(server.adminUrl);
  return {
    url: db.url,
    async drop() {
      await db.drop();
      await server.stop();
    },
  };
}
