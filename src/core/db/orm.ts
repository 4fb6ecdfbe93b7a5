import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from 'pino';
import { Installation, entities } from './entities.js';
import { migrationsList } from './migrations.js';
import { withMigrationLock } from './store.js';
import { isAlive } from '../pid.js';

export type Orm = MikroORM;

export interface Database {
  orm: Orm;
  /** 'postgres' for DATABASE_URL, 'embedded' for the PGlite default */
  kind: 'postgres' | 'embedded';
  /** The id made with this database (table `installation`); queue job ids carry it. */
  installationId(): Promise<string>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  poolMax?: number;
  logger?: Logger;
  /** Apply pending migrations before returning (the default). */
  migrate?: boolean;
}

/** The embedded database belongs to one process; another one asked for it gets this. */
export class EmbeddedDatabaseBusyError extends Error {
  override name = 'EmbeddedDatabaseBusyError';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`the embedded database in ${dataDir} is in use by process ${pid} (a running AutoDevHub)`);
  }
}

type Connection = { host: string; port: number; user: string; dbName: string } | { clientUrl: string };

function ormOptions(connection: Connection, poolMax: number, acquireTimeoutMs = 2000): Options {
  return {
    ...connection,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, tableName: 'mikro_orm_migrations', transactional: true, allOrNothing: true, silent: true, snapshot: false },
    // While Postgres is unreachable a request must fail within the platforms' deadlines (Slack
    // waits 3 s) with "nothing was queued", not wait out knex's default minute for a connection.
    pool: { min: 0, max: poolMax, acquireTimeoutMillis: acquireTimeoutMs },
    driverOptions: { connection: { connectionTimeoutMillis: Math.min(acquireTimeoutMs, 5000), keepAlive: true } },
    // Tests and jobs fork their own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: false,
  };
}

/**
 * PGlite is one Postgres in this process: a second process opening the same folder would corrupt
 * it. A pid file claims the folder; one left by a process that is gone is taken over.
 */
function claimDataDir(dataDir: string): () => void {
  const file = join(dataDir, 'embedded.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid && pid !== process.pid && isAlive(pid)) throw new EmbeddedDatabaseBusyError(dataDir, pid);
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not claim ${file}`);
}


/**
 * The embedded default: PGlite (Postgres compiled to WASM) served over the Postgres wire protocol
 * on a private unix socket, so the same driver, entities and migrations serve both modes. The
 * socket server takes one connection, so the ORM pool is one and transactions serialise.
 */
async function startEmbedded(dataDir: string, logger?: Logger) {
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const pgDir = join(dataDir, 'pgdata');
  mkdirSync(pgDir, { recursive: true });
  const release = claimDataDir(dataDir);
  let db: InstanceType<typeof PGlite> | undefined;
  // Unix socket paths are limited to ~107 bytes, so the socket lives in a short temp folder.
  const socketDir = mkdtempSync(join(tmpdir(), 'adh-pg-'));
  try {
    db = await PGlite.create(pgDir);
    const server = new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 1 });
    await server.start();
    logger?.info({ dataDir: pgDir }, 'using the embedded database (PGlite); set DATABASE_URL for Postgres');
    return {
      // The driver (pg) takes a host that starts with "/" as the folder of a unix socket named
      // .s.PGSQL.<port>. (A ?host= in a URL is ignored by knex's pg client: it would reach TCP 5432.)
      connection: { host: socketDir, port: 5432, user: 'postgres', dbName: 'postgres' },
      async stop() {
        await server.stop();
        await db!.close();
        rmSync(socketDir, { recursive: true, force: true });
        release();
      },
    };
  } catch (err) {
    await db?.close().catch(() => undefined);
    rmSync(socketDir, { recursive: true, force: true });
    release();
    throw err;
  }
}

/** Migrations under the advisory lock (store.ts), except on the embedded database: one process, one connection. */
async function migrateExclusively(orm: MikroORM, exclusive: boolean) {
  return exclusive ? withMigrationLock(orm, () => orm.getMigrator().up()) : orm.getMigrator().up();
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbedded(opts.dataDir, opts.logger);
  const connection: Connection = embedded ? embedded.connection : { clientUrl: opts.databaseUrl! };
  const poolMax = embedded ? 1 : (opts.poolMax ?? 10);
  let orm: MikroORM | undefined;
  try {
    // The embedded database serialises everything through one connection: waits are longer there.
    orm = await MikroORM.init(ormOptions(connection, poolMax, embedded ? 15_000 : 2000));
    if (opts.migrate !== false) {
      // The embedded database has one process and one connection: nothing to wait for.
      const applied = await migrateExclusively(orm, !embedded);
      if (applied.length) opts.logger?.info({ migrations: applied.map((m) => m.name) }, 'applied database migrations');
    }
  } catch (err) {
    await orm?.close(true).catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
  const ready = orm;
  return {
    orm: ready,
    kind: embedded ? 'embedded' : 'postgres',
    async installationId() {
      const row = await ready.em.fork().findOneOrFail(Installation, { singleton: true });
      return row.id;
    },
    async close() {
      await ready.close(true);
      await embedded?.stop();
    },
  };
}
