import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from 'pino';
import { entities } from './entities.js';
import { migrationsList } from './migrations.js';

export type Orm = MikroORM;

export interface Database {
  orm: Orm;
  /** 'postgres' for DATABASE_URL, 'embedded' for the PGlite default */
  kind: 'postgres' | 'embedded';
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

function ormOptions(clientUrl: string, poolMax: number, extra: Partial<Options> = {}): Options {
  return {
    clientUrl,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, tableName: 'mikro_orm_migrations', transactional: true, allOrNothing: true, silent: true, snapshot: false },
    pool: { min: 0, max: poolMax },
    // Tests and jobs fork their own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: false,
    ...extra,
  };
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
  const db = await PGlite.create(pgDir);
  // Unix socket paths are limited to ~107 bytes, so the socket lives in a short temp folder.
  const socketDir = mkdtempSync(join(tmpdir(), 'adh-pg-'));
  const server = new PGLiteSocketServer({ db, path: join(socketDir, '.s.PGSQL.5432'), maxConnections: 1 });
  await server.start();
  logger?.info({ dataDir: pgDir }, 'using the embedded database (PGlite); set DATABASE_URL for Postgres');
  return {
    url: `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(socketDir)}`,
    async stop() {
      await server.stop();
      await db.close();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbedded(opts.dataDir, opts.logger);
  const url = opts.databaseUrl ?? embedded!.url;
  const poolMax = embedded ? 1 : (opts.poolMax ?? 10);
  let orm: MikroORM;
  try {
    orm = await MikroORM.init(ormOptions(url, poolMax));
    if (opts.migrate !== false) {
      const applied = await orm.getMigrator().up();
      if (applied.length) opts.logger?.info({ migrations: applied.map((m) => m.name) }, 'applied database migrations');
    }
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  return {
    orm,
    kind: embedded ? 'embedded' : 'postgres',
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
