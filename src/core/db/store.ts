import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';

/** Rows per table: what a backup or a restore holds, said in numbers. */
export async function countRows(em: EntityManager, tables: readonly string[]): Promise<Record<string, number>> {
  const rows: Array<Record<string, unknown>> = await em.execute(tables.map((t) => `select '${t}' as t, count(*) as n from ${t}`).join(' union all '));
  return Object.fromEntries(rows.map((r) => [String(r.t), Number(r.n)]));
}

/**
 * Web and worker processes starting together would both create the same tables (Postgres then
 * fails one with a duplicate pg_class key). A session advisory lock, held on a connection of its
 * own, lets one migrate while the other waits and then finds nothing left to do.
 */
export async function withMigrationLock<T>(orm: MikroORM, fn: () => Promise<T>): Promise<T> {
  const knex = orm.em.getConnection().getKnex();
  const conn = (await knex.client.acquireConnection()) as { query(sql: string): Promise<unknown> };
  try {
    await conn.query(`select pg_advisory_lock(hashtext('autodevhub:migrations'))`);
    try {
      return await fn();
    } finally {
      await conn.query(`select pg_advisory_unlock(hashtext('autodevhub:migrations'))`);
    }
  } finally {
    await knex.client.releaseConnection(conn);
  }
}
