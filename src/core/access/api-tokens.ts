import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, CoreContext } from '../context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { authorize } from './authorize.js';
import { principalOf, unlessDatabaseDown } from './principal.js';
import { accessEpoch, RecentAccess } from './epoch.js';
import { SCOPES, type Scope } from './actions.js';
import { findApiTokenById, insertToken, listTokens, revokeApiTokenById, useApiToken } from './store.js';

/**
 * Personal API tokens for scripts and CI: `Authorization: Bearer adh_…`. A token acts as the person
 * who made it, limited to its scopes; it is shown once, stored as a SHA-256 hash, expires, can be
 * revoked, and each use is recorded (last used at).
 */

const PREFIX = 'adh_';
const MAX_TTL_DAYS = 366;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export interface ApiTokenInfo {
  id: number;
  name: string;
  scopes: Scope[];
  owner: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

type Row = Awaited<ReturnType<typeof findApiTokenById>>;
function info(r: NonNullable<Row>): ApiTokenInfo {
  return {
    id: Number(r.id),
    name: r.name ?? '',
    scopes: (r.scopes ?? []) as Scope[],
    owner: r.subject,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: new Date(r.expiresAt!).toISOString(),
    lastUsedAt: r.lastUsedAt ? new Date(r.lastUsedAt).toISOString() : null,
    revokedAt: r.revokedAt ? new Date(r.revokedAt).toISOString() : null,
  };
}

export async function createApiToken(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  input: { name: string; scopes: string[]; ttlDays?: number },
): Promise<{ token: string; info: ApiTokenInfo }> {
  await authorize(ctx, actor, 'api_token.own');
  const scopes = [...new Set(input.scopes)];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length) throw new ValidationError(`scopes: give one or more of ${SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  // A token never makes a token that can do more than itself.
  if (actor.scopes && scopes.some((s) => !actor.scopes!.includes(s))) throw new ForbiddenError('Not allowed: a token may only make tokens with scopes it has itself.');
  const ttlDays = input.ttlDays ?? 90;
  if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > MAX_TTL_DAYS) throw new ValidationError(`ttlDays must be a whole number from 1 to ${MAX_TTL_DAYS}`);
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(Date.now() + ttlDays * 86_400_000);
  const row = await transaction(ctx, async (tx) => {
    await insertToken(tx.em, { kind: 'api', tokenHash: hash(token), subject: actor.id, name: input.name, scopes, expiresAt });
    const made = (await listTokens(tx.em, 'api', { subjects: [actor.id] }))[0]!;
    await audit(tx, { actor: actor.id, action: 'api_token.created', target: `api_token:${made.id}`, source: actor.platform, data: { name: input.name, scopes, expiresAt: expiresAt.toISOString() } });
    return made;
  });
  return { token, info: info(row) };
}

/** Your own tokens; with `all`, everyone's (admins). */
export async function listApiTokens({ ctx, actor }: { ctx: CoreContext; actor: Actor }, opts: { all?: boolean } = {}): Promise<ApiTokenInfo[]> {
  if (opts.all) {
    await authorize(ctx, actor, 'api_token.any');
    return (await listTokens(ctx.em, 'api')).map(info);
  }
  await authorize(ctx, actor, 'api_token.own');
  const { handles } = await principalOf(ctx, actor);
  return (await listTokens(ctx.em, 'api', { subjects: handles })).map(info);
}

export async function revokeApiToken({ ctx, actor }: { ctx: CoreContext; actor: Actor }, id: number): Promise<void> {
  const row = await findApiTokenById(ctx.em, id);
  if (!row) throw new NotFoundError(`There is no API token ${id}.`);
  const { handles } = await principalOf(ctx, actor);
  await authorize(ctx, actor, handles.includes(row.subject) ? 'api_token.own' : 'api_token.any', { target: `api_token:${id}` });
  await transaction(ctx, async (tx) => {
    await revokeApiTokenById(tx.em, id);
    await audit(tx, { actor: actor.id, action: 'api_token.revoked', target: `api_token:${id}`, source: actor.platform });
  });
}

/** Whether a credential is an API token (and not, say, a widget token). */
export function isApiToken(token: string): boolean {
  return token.startsWith(PREFIX);
}

/**
 * How long a token found good is taken as good without asking the database again (never past its
 * expiry). A revocation in this process ends that at once (epoch.ts); one made by another process
 * is seen here within this time.
 */
export const API_TOKEN_TTL_MS = 2000;
type TokenRow = NonNullable<Awaited<ReturnType<typeof useApiToken>>>;
const recentTokens = new RecentAccess<TokenRow>(API_TOKEN_TTL_MS);

/** The actor a bearer token stands for, or undefined (unknown, expired or revoked). Records the use. */
export async function actorForApiToken(em: EntityManager, token: string): Promise<(Actor & { tokenId: number }) | undefined> {
  if (!token.startsWith(PREFIX) || token.length > 200) return undefined;
  const key = hash(token);
  let row = recentTokens.get(key);
  if (!row) {
    const resolvedAt = accessEpoch();
    row = await unlessDatabaseDown(useApiToken(em, key));
    if (!row) return void recentTokens.delete(key);
    recentTokens.set(key, row, resolvedAt, row.expiresAt?.getTime());
  }
  return { id: row.subject, platform: 'api', channel: null, scopes: row.scopes, tokenId: row.id };
}
