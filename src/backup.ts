import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Backups of the database, the one place AutoDevHub keeps state that matters (Redis holds only
 * queues, caches and locks that the sweeps rebuild from Postgres).
 *
 * - Postgres (DATABASE_URL): `pg_dump --format=custom`, restored with `pg_restore` (the
 *   PostgreSQL client tools, of the server's major version or newer, on the machine that runs it).
 *   Data is loaded before triggers and indexes are made, so the audit chain comes back as it was.
 * - Embedded (PGlite under DATA_DIR): PGlite's own data-directory dump (a gzipped tarball),
 *   taken and restored with AutoDevHub stopped (PGlite serves one process).
 */

export type BackupKind = 'postgres' | 'embedded';

export class BackupError extends Error {
  override name = 'BackupError';
}

/** What a backup file holds, from its first bytes. */
export function backupKindOf(file: string): BackupKind {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(5);
  try {
    readSync(fd, head, 0, 5, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === 'PGDMP') return 'postgres';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'embedded';
  throw new BackupError(`${file} is not an AutoDevHub backup (neither a pg_dump custom-format file nor an embedded-database tarball)`);
}

/** libpq reads the password from PGPASSWORD: it stays off the command line (and out of `ps`). */
function libpq(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: { ...process.env, ...(password && { PGPASSWORD: password }) } };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new BackupError(err.code === 'ENOENT' ? `${command} was not found: install the PostgreSQL client tools (e.g. apt-get install postgresql-client)` : err.message)),
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new BackupError(`${command} failed (exit ${code}): ${stderr.trim().slice(0, 2000)}`))));
  });
}

export async function backupPostgres(databaseUrl: string, file: string): Promise<void> {
  const { url, env } = libpq(databaseUrl);
  // The dump holds every secret the database does: readable by its owner only, from its first
  // byte (pg_dump keeps the mode of a file that exists; one left from before is narrowed first).
  closeSync(openSync(file, 'w', 0o600));
  chmodSync(file, 0o600);
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${url}`], env);
}

/** Into the database DATABASE_URL names (empty, or replaced object by object), in one transaction. */
export async function restorePostgres(databaseUrl: string, file: string): Promise<void> {
  const { url, env } = libpq(databaseUrl);
  await run('pg_restore', ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', `--dbname=${url}`, file], env);
}

const pgdata = (dataDir: string) => join(dataDir, 'pgdata');

/** PGlite keeps postmaster.pid in its data directory while it is open. */
function refuseIfInUse(dataDir: string, force: boolean): void {
  if (!force && existsSync(join(pgdata(dataDir), 'postmaster.pid'))) {
    throw new BackupError(
      `the embedded database in ${pgdata(dataDir)} is in use: stop AutoDevHub first. ` +
        '(If it is not running, it stopped without closing the database: start and stop it once, or pass --force.)',
    );
  }
}

export async function backupEmbedded(dataDir: string, file: string, force = false): Promise<void> {
  refuseIfInUse(dataDir, force);
  if (!existsSync(join(pgdata(dataDir), 'PG_VERSION'))) throw new BackupError(`there is no embedded database in ${pgdata(dataDir)} (is DATA_DIR right?)`);
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(pgdata(dataDir));
  try {
    const dump = await db.dumpDataDir('gzip');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 });
  } finally {
    await db.close();
  }
}

/** The current data directory is kept beside it (`pgdata.before-restore-<time>`), never deleted. */
export async function restoreEmbedded(dataDir: string, file: string, force = false): Promise<string | undefined> {
  refuseIfInUse(dataDir, force);
  const target = pgdata(dataDir);
  let keptAt: string | undefined;
  if (existsSync(target)) {
    keptAt = `${target}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(target, keptAt);
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir: target, loadDataDir: new Blob([readFileSync(file)]) });
  await db.close();
  return keptAt;
}
