import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Actor } from '../context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { audit } from './audit.js';

/**
 * Widget tokens: read-only, for one project, signed with AUTODEVHUB_SECRET, expiring, and
 * usable only from the origins named when they were made. The signature makes them cheap to
 * check; the row in api_tokens (by id) is what makes revocation take effect.
 */

export const WIDGET_AUDIENCE = 'autodevhub:widget';
const MAX_TTL_DAYS = 366;

export interface WidgetTokenInfo {
  id: string;
  projectKey: string;
  name: string | null;
  origins: string[];
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface WidgetPrincipal {
  tokenId: string;
  projectKey: string;
  origins: string[];
}

function key(secret: string) {
  return new TextEncoder().encode(secret);
}

/** "https://status.acme.com/" → "https://status.acme.com"; anything that is not an origin is refused. */
export function normaliseOrigin(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError(`"${value}" is not an origin like https://status.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ValidationError(`"${value}" is not an http(s) origin`);
  if (url.pathname !== '/' || url.search || url.hash) throw new ValidationError(`"${value}" has a path; give the origin only`);
  return url.origin;
}

export async function createWidgetToken(
  { em, secret, actor, admins }: { em: EntityManager; secret: string; actor: Actor; admins: string[] },
  input: { projectKey: string; origins: string[]; ttlDays?: number; name?: string },
): Promise<{ token: string; info: WidgetTokenInfo }> {
  if (!admins.includes(actor.id)) throw new ForbiddenError('Only an admin may create widget tokens.');
  const projects: Array<{ key: string }> = await em.getConnection().execute(`select key from projects where key = ?`, [input.projectKey]);
  if (!projects[0]) throw new NotFoundError(`There is no project "${input.projectKey}". Add it to autodevhub.yaml first.`);
  if (!Array.isArray(input.origins) || input.origins.length === 0) {
    throw new ValidationError('Name at least one origin the widget will be embedded on, like https://status.example.com');
  }
  const origins = [...new Set(input.origins.map(normaliseOrigin))];
  const ttlDays = input.ttlDays ?? 90;
  if (!Number.isInteger(ttlDays) || ttlDays < 1 || ttlDays > MAX_TTL_DAYS) throw new ValidationError(`ttlDays must be a whole number from 1 to ${MAX_TTL_DAYS}`);
  const id = randomUUID();
  const expiresAt = new Date(Date.now() + ttlDays * 86_400_000);
  const token = await new SignJWT({ prj: input.projectKey, ori: origins, scope: 'feed:read' })
    .setProtectedHeader({ alg: 'HS256' })
    .setJti(id)
    .setSubject(`widget:${id}`)
    .setAudience(WIDGET_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key(secret));
  // Only the id is stored: the token itself can be re-derived by nobody but the signer.
  await em.getConnection().execute(
    `insert into api_tokens (kind, name, token_hash, subject, project_key, expires_at) values ('widget', ?, ?, ?, ?, ?)`,
    [input.name ?? null, `jti:${id}`, actor.id, input.projectKey, expiresAt],
  );
  await audit({ em }, { actor: actor.id, action: 'widget_token.created', target: `widget:${id}`, source: actor.platform, data: { project: input.projectKey, origins } });
  return { token, info: { id, projectKey: input.projectKey, name: input.name ?? null, origins, createdBy: actor.id, expiresAt: expiresAt.toISOString(), revokedAt: null } };
}

export async function listWidgetTokens(em: EntityManager, projectKey?: string): Promise<Array<Omit<WidgetTokenInfo, 'origins'>>> {
  const rows: Array<Record<string, unknown>> = await em.getConnection().execute(
    `select * from api_tokens where kind = 'widget' ${projectKey ? 'and project_key = ?' : ''} order by created_at desc limit 200`,
    projectKey ? [projectKey] : [],
  );
  return rows.map((r) => ({
    id: String(r.token_hash).replace(/^jti:/, ''),
    projectKey: String(r.project_key),
    name: (r.name as string | null) ?? null,
    createdBy: String(r.subject),
    expiresAt: new Date(String(r.expires_at)).toISOString(),
    revokedAt: r.revoked_at ? new Date(String(r.revoked_at)).toISOString() : null,
  }));
}

export async function revokeWidgetToken({ em, actor, admins }: { em: EntityManager; actor: Actor; admins: string[] }, id: string): Promise<void> {
  if (!admins.includes(actor.id)) throw new ForbiddenError('Only an admin may revoke widget tokens.');
  const rows: unknown[] = await em
    .getConnection()
    .execute(`update api_tokens set revoked_at = coalesce(revoked_at, now()) where kind = 'widget' and token_hash = ? returning id`, [`jti:${id}`]);
  if (!rows.length) throw new NotFoundError(`There is no widget token ${id}.`);
  await audit({ em }, { actor: actor.id, action: 'widget_token.revoked', target: `widget:${id}`, source: actor.platform });
}

export type WidgetCheck = { ok: true; principal: WidgetPrincipal } | { ok: false; reason: string };

/** Signature, audience, expiry, revocation, then the connecting page's origin. */
export async function verifyWidgetToken(em: EntityManager, secret: string, token: string, origin: string | undefined): Promise<WidgetCheck> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, key(secret), { audience: WIDGET_AUDIENCE, algorithms: ['HS256'] }));
  } catch (err) {
    return { ok: false, reason: err instanceof joseErrors.JWTExpired ? 'unauthorized: the widget token has expired' : 'unauthorized: the widget token is not valid' };
  }
  const id = String(payload.jti ?? '');
  const rows: Array<{ revoked_at: unknown }> = await em
    .getConnection()
    .execute(`select revoked_at from api_tokens where kind = 'widget' and token_hash = ?`, [`jti:${id}`]);
  if (!rows[0] || rows[0].revoked_at) return { ok: false, reason: 'unauthorized: the widget token was revoked' };
  const origins = Array.isArray(payload.ori) ? payload.ori.map(String) : [];
  // Browsers always send Origin; a script without one is not a page that could be framed.
  if (origin && !origins.includes(origin)) return { ok: false, reason: `forbidden: this token is not valid on ${origin}` };
  return { ok: true, principal: { tokenId: id, projectKey: String(payload.prj), origins } };
}
