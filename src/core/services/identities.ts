import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * A person may hold several platform identities (slack:U1, discord:42, …) linked to one user.
 * Policies compare people, not handles.
 */
export async function identitiesOf(em: EntityManager, handle: string): Promise<string[]> {
  const rows: Array<{ handle: string }> = await em.getConnection().execute(
    `select i2.handle from identities i1 join identities i2 on i2.user_id = i1.user_id where i1.handle = ?`,
    [handle],
  );
  return rows.length ? [...new Set([handle, ...rows.map((r) => r.handle)])] : [handle];
}

/** The key that identifies a person: their user when linked, else the handle itself. */
export async function personOf(em: EntityManager, handle: string): Promise<string> {
  const rows: Array<{ user_id: number }> = await em.getConnection().execute(`select user_id from identities where handle = ?`, [handle]);
  return rows[0] ? `user:${rows[0].user_id}` : handle;
}

/** Links handles to one user (creating it), e.g. `slack:U1` and `discord:42` of the same person. */
export async function linkIdentities(em: EntityManager, handles: string[]): Promise<number> {
  const conn = em.getConnection();
  const existing: Array<{ user_id: number }> = await conn.execute(
    `select user_id from identities where handle in (${handles.map(() => '?').join(', ')}) limit 1`,
    handles,
  );
  const userId = existing[0]?.user_id ?? (await conn.execute<Array<{ id: number }>>(`insert into users default values returning id`))[0]!.id;
  for (const h of handles) {
    await conn.execute(`insert into identities (user_id, handle) values (?, ?) on conflict (handle) do update set user_id = excluded.user_id`, [userId, h]);
  }
  return userId;
}
