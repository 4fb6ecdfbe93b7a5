import { accessChanged } from './epoch.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiToken, Identity, RoleGrant, Session, User } from '../db/entities.js';

/** All reads and writes of users, identities, api_tokens, role_grants and sessions. */

export type TokenKind = 'signin' | 'widget' | 'api' | 'link';
const fresh = { disableIdentityMap: true } as const;

/** Every handle of the person who holds `handle` (the handle itself when it is not linked). */
export async function handlesOfPerson(em: EntityManager, handle: string): Promise<string[]> {
  const mine = await em.findOne(Identity, { handle }, { disableIdentityMap: true });
  if (!mine) return [handle];
  const all = await em.find(Identity, { userId: mine.userId }, { disableIdentityMap: true });
  return [...new Set([handle, ...all.map((i) => i.handle)])];
}

/** The person holding `handle`: their user id (when linked) and every handle they hold. */
export async function personOfHandle(em: EntityManager, handle: string): Promise<{ userId: number | undefined; handles: string[] }> {
  const rows: Array<{ user_id: number; handle: string }> = await em.execute(
    `select i.user_id, i.handle from identities i where i.user_id = (select user_id from identities where handle = ?)`,
    [handle],
  );
  if (rows.length === 0) return { userId: undefined, handles: [handle] };
  return { userId: Number(rows[0]!.user_id), handles: [...new Set([handle, ...rows.map((r) => r.handle)])] };
}

/** `personOfHandle` for many handles in one query (principals resolved together). */
export async function personsOfHandles(em: EntityManager, handles: string[]): Promise<Map<string, { userId: number | undefined; handles: string[] }>> {
  const rows: Array<{ asked: string; user_id: number; handle: string }> = handles.length
    ? await em.execute(`select h.handle as asked, i.user_id, i.handle from identities h join identities i on i.user_id = h.user_id where h.handle in (${handles.map(() => '?').join(', ')})`, handles)
    : [];
  const found = new Map<string, { userId: number | undefined; handles: string[] }>();
  for (const handle of handles) found.set(handle, { userId: undefined, handles: [handle] });
  for (const r of rows) {
    const p = found.get(r.asked)!;
    p.userId = Number(r.user_id);
    if (!p.handles.includes(r.handle)) p.handles.push(r.handle);
  }
  return found;
}

export async function userIdOf(em: EntityManager, handle: string): Promise<number | undefined> {
  return (await em.findOne(Identity, { handle }, { disableIdentityMap: true }))?.userId;
}

/** Links handles to one user (the user one of them already has, or a new one). */
export async function linkHandles(em: EntityManager, handles: string[]): Promise<number> {
  accessChanged();
  const existing = await em.findOne(Identity, { handle: { $in: handles } }, { disableIdentityMap: true });
  const userId = existing?.userId ?? (await em.insert(User, { createdAt: new Date() }));
  for (const handle of handles) {
    await em.upsert(Identity, { userId, handle, createdAt: new Date() }, { onConflictFields: ['handle'], onConflictAction: 'merge', onConflictMergeFields: ['userId'] });
  }
  return Number(userId);
}

export async function insertToken(
  em: EntityManager,
  token: { kind: TokenKind; tokenHash: string; subject: string; name?: string | null; projectKey?: string | null; scopes?: string[] | null; expiresAt: Date },
): Promise<void> {
  await em.insert(ApiToken, { ...token, name: token.name ?? null, projectKey: token.projectKey ?? null, scopes: token.scopes ?? null, createdAt: new Date() });
}

/** Marks a one-time token used, atomically: of two uses, one gets the subject. */
export async function consumeToken(em: EntityManager, kind: 'signin' | 'link', tokenHash: string): Promise<string | undefined> {
  const changed = await em.nativeUpdate(
    ApiToken,
    { kind, tokenHash, usedAt: null, revokedAt: null, expiresAt: { $gt: new Date() } },
    { usedAt: new Date() },
  );
  if (changed !== 1) return undefined;
  return (await em.findOne(ApiToken, { tokenHash }, { disableIdentityMap: true }))?.subject;
}

export async function findToken(em: EntityManager, kind: TokenKind, tokenHash: string) {
  return em.findOne(ApiToken, { kind, tokenHash }, { disableIdentityMap: true });
}

export async function listTokens(em: EntityManager, kind: 'widget' | 'api', filter: { projectKey?: string; projectKeys?: string[]; subjects?: string[] } = {}) {
  return em.find(
    ApiToken,
    {
      kind,
      ...(filter.projectKey && { projectKey: filter.projectKey }),
      ...(filter.projectKeys && { projectKey: { $in: filter.projectKeys } }),
      ...(filter.subjects && { subject: { $in: filter.subjects } }),
    },
    { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 200, disableIdentityMap: true },
  );
}

/** Revokes (once; a second revoke keeps the first time). Returns false when there is no such token. */
export async function revokeToken(em: EntityManager, kind: 'widget' | 'api', tokenHash: string): Promise<boolean> {
  accessChanged();
  const token = await em.findOne(ApiToken, { kind, tokenHash }, { disableIdentityMap: true });
  if (!token) return false;
  if (!token.revokedAt) await em.nativeUpdate(ApiToken, { id: token.id, revokedAt: null }, { revokedAt: new Date() });
  return true;
}

/** An API token by hash, if it is usable now; its use is recorded in the same statement. */
export async function useApiToken(em: EntityManager, tokenHash: string): Promise<{ id: number; subject: string; scopes: string[]; name: string | null; expiresAt: Date | null } | undefined> {
  // The use is recorded at most once a minute: scripts calling in parallel do not queue on the row's lock.
  const rows: Array<{ id: string | number; subject: string; scopes: string[] | null; name: string | null; expires_at: string | Date | null }> = await em.execute(
    `with t as (
       select id, subject, scopes, name, expires_at, last_used_at from api_tokens
        where kind = 'api' and token_hash = ? and revoked_at is null and (expires_at is null or expires_at > now())
     ), used as (
       update api_tokens set last_used_at = now() from t
        where api_tokens.id = t.id and (t.last_used_at is null or t.last_used_at < now() - interval '1 minute')
     )
     select id, subject, scopes, name, expires_at from t`,
    [tokenHash],
  );
  const row = rows[0];
  return row ? { id: Number(row.id), subject: row.subject, scopes: row.scopes ?? [], name: row.name, expiresAt: row.expires_at ? new Date(row.expires_at) : null } : undefined;
}

export async function findApiTokenById(em: EntityManager, id: number) {
  return em.findOne(ApiToken, { id, kind: 'api' }, fresh);
}

export async function revokeApiTokenById(em: EntityManager, id: number): Promise<void> {
  accessChanged();
  await em.nativeUpdate(ApiToken, { id, kind: 'api', revokedAt: null }, { revokedAt: new Date() });
}

// --- role grants ---------------------------------------------------------------------------

export interface GrantRow {
  id: number;
  principal: string;
  projectKey: string;
  role: 'admin' | 'maintainer' | 'developer' | 'viewer';
  createdBy: string;
  createdAt: string;
}

const toGrant = (g: { id: number; principal: string; projectKey: string; role: GrantRow['role']; createdBy: string; createdAt: Date | string }): GrantRow => ({
  id: g.id,
  principal: g.principal,
  projectKey: g.projectKey,
  role: g.role,
  createdBy: g.createdBy,
  createdAt: new Date(g.createdAt).toISOString(),
});

export async function grantsFor(em: EntityManager, principals: string[]): Promise<GrantRow[]> {
  if (principals.length === 0) return [];
  return (await em.find(RoleGrant, { principal: { $in: principals } }, fresh)).map(toGrant);
}

export async function listGrants(em: EntityManager, filter: { projectKey?: string } = {}): Promise<GrantRow[]> {
  return (await em.find(RoleGrant, filter.projectKey ? { projectKey: filter.projectKey } : {}, { orderBy: { id: 'asc' }, ...fresh })).map(toGrant);
}

/** One role per principal and project: a new grant replaces the old one. */
export async function upsertGrant(em: EntityManager, g: { principal: string; projectKey: string; role: GrantRow['role']; createdBy: string }): Promise<GrantRow> {
  accessChanged();
  await em.upsert(RoleGrant, { ...g, createdAt: new Date() }, { onConflictFields: ['principal', 'projectKey'], onConflictAction: 'merge', onConflictMergeFields: ['role', 'createdBy', 'createdAt'] });
  return toGrant((await em.findOneOrFail(RoleGrant, { principal: g.principal, projectKey: g.projectKey }, fresh)) as never);
}

export async function deleteGrant(em: EntityManager, id: number): Promise<GrantRow | undefined> {
  accessChanged();
  const row = await em.findOne(RoleGrant, { id }, fresh);
  if (!row) return undefined;
  await em.nativeDelete(RoleGrant, { id });
  return toGrant(row as never);
}

// --- people --------------------------------------------------------------------------------

export interface PersonRow {
  id: number;
  displayName: string | null;
  identities: string[];
  createdAt: string;
}

export async function listPeople(em: EntityManager, limit = 500): Promise<PersonRow[]> {
  const users = await em.find(User, {}, { orderBy: { id: 'asc' }, limit, ...fresh });
  const identities = await em.find(Identity, { userId: { $in: users.map((u) => u.id) } }, { orderBy: { id: 'asc' }, ...fresh });
  return users.map((u) => ({
    id: u.id,
    displayName: u.displayName ?? null,
    identities: identities.filter((i) => i.userId === u.id).map((i) => i.handle),
    createdAt: new Date(u.createdAt).toISOString(),
  }));
}

export async function findPerson(em: EntityManager, id: number): Promise<PersonRow | undefined> {
  const u = await em.findOne(User, { id }, fresh);
  if (!u) return undefined;
  const identities = await em.find(Identity, { userId: id }, { orderBy: { id: 'asc' }, ...fresh });
  return { id: u.id, displayName: u.displayName ?? null, identities: identities.map((i) => i.handle), createdAt: new Date(u.createdAt).toISOString() };
}

export async function createPerson(em: EntityManager, displayName: string | null): Promise<number> {
  return Number(await em.insert(User, { displayName, createdAt: new Date() }));
}

export async function setDisplayName(em: EntityManager, userId: number, displayName: string): Promise<void> {
  await em.nativeUpdate(User, { id: userId }, { displayName });
}

/** Binds a handle to a person, taking it from any other person. */
export async function bindHandle(em: EntityManager, userId: number, handle: string): Promise<void> {
  accessChanged();
  await em.upsert(Identity, { userId, handle, createdAt: new Date() }, { onConflictFields: ['handle'], onConflictAction: 'merge', onConflictMergeFields: ['userId'] });
}

export async function unbindHandle(em: EntityManager, userId: number, handle: string): Promise<boolean> {
  accessChanged();
  return (await em.nativeDelete(Identity, { userId, handle })) > 0;
}

// --- sessions ------------------------------------------------------------------------------

export interface SessionRow {
  id: number;
  subject: string;
  groups: string[];
  displayName: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export async function insertSession(
  em: EntityManager,
  s: { tokenHash: string; subject: string; groups: string[]; displayName: string | null; ip: string | null; userAgent: string | null; expiresAt: Date },
): Promise<number> {
  return Number(await em.insert(Session, { ...s, createdAt: new Date(), lastSeenAt: new Date() }));
}

/** A live session by token hash; its last use is recorded in the same statement. */
export async function touchSession(em: EntityManager, tokenHash: string): Promise<SessionRow | undefined> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `update sessions set last_seen_at = now()
      where token_hash = ? and revoked_at is null and expires_at > now()
      returning id, subject, groups, display_name, created_at, last_seen_at, expires_at`,
    [tokenHash],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: Number(r.id),
    subject: String(r.subject),
    groups: (r.groups as string[] | null) ?? [],
    displayName: (r.display_name as string | null) ?? null,
    createdAt: new Date(r.created_at as string).toISOString(),
    lastSeenAt: new Date(r.last_seen_at as string).toISOString(),
    expiresAt: new Date(r.expires_at as string).toISOString(),
  };
}

/** Ends sessions at once; returns the ids ended (so their sockets can be closed). */
export async function revokeSessions(em: EntityManager, where: { tokenHash?: string; subjects?: string[] }): Promise<number[]> {
  if (!where.tokenHash && !where.subjects?.length) return [];
  const rows: Array<{ id: string | number }> = where.tokenHash
    ? await em.execute(`update sessions set revoked_at = now() where token_hash = ? and revoked_at is null returning id`, [where.tokenHash])
    : await em.execute(`update sessions set revoked_at = now() where subject in (?) and revoked_at is null returning id`, [where.subjects]);
  return rows.map((r) => Number(r.id));
}
