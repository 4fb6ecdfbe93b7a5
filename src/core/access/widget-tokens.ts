import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Actor, CoreContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { authorize, requireScope } from './authorize.js';
import { principalOf, roleOn } from './principal.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { findProject } from '../projects/store.js';
import { findToken, insertToken, listTokens, revokeToken } from './store.js';

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

type TokenContext = { ctx: CoreContext; actor: Actor };

export async function createWidgetToken(
  { ctx, actor, secret }: TokenContext & { secret: string },
  input: { projectKey: string; origins: string[]; ttlDays?: number; name?: string },
): Promise<{ token: string; info: WidgetTokenInfo }> {
  const { em, logger } = ctx;
  if (!(await findProject(em, input.projectKey))) throw new NotFoundError(`There is no project "${input.projectKey}". Add it to autodevhub.yaml first.`);
  if (!Array.isArray(input.origins) || input.origins.length === 0) {
    throw new ValidationError('Name at least one origin the widget will be embedded on, like https://status.example.com');
  }
  await authorize(ctx, actor, 'widget_token.manage', { project: input.projectKey });
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
  await transaction({ em, logger }, async (tx) => {
    await insertToken(tx.em, { kind: 'widget', tokenHash: `jti:${id}`, subject: actor.id, name: input.name ?? null, projectKey: input.projectKey, expiresAt });
    await audit(tx, { actor: actor.id, action: 'widget_token.created', target: `widget:${id}`, source: actor.platform, data: { project: input.projectKey, origins } });
  });
  return { token, info: { id, projectKey: input.projectKey, name: input.name ?? null, origins, createdBy: actor.id, expiresAt: expiresAt.toISOString(), revokedAt: null } };
}

/** The widget tokens of the projects the actor may manage them for (all, for admins). */
export async function listWidgetTokens({ ctx, actor }: TokenContext, projectKey?: string): Promise<Array<Omit<WidgetTokenInfo, 'origins'>>> {
  requireScope(actor, 'widget_token.manage');
  if (projectKey) await authorize(ctx, actor, 'widget_token.manage', { project: projectKey });
  const principal = await principalOf(ctx, actor);
  const managed = principal.admin ? undefined : ctx.config.projects.filter((p) => roleOn(principal, p.key) === 'maintainer').map((p) => p.key);
  const rows = await listTokens(ctx.em, 'widget', projectKey ? { projectKey } : managed ? { projectKeys: managed } : {});
  return rows.map((r) => ({
    id: r.tokenHash.replace(/^jti:/, ''),
    projectKey: String(r.projectKey),
    name: r.name ?? null,
    createdBy: r.subject,
    expiresAt: new Date(r.expiresAt!).toISOString(),
    revokedAt: r.revokedAt ? new Date(r.revokedAt).toISOString() : null,
  }));
}

export async function revokeWidgetToken({ ctx, actor }: TokenContext, id: string): Promise<void> {
  const row = await findToken(ctx.em, 'widget', `jti:${id}`);
  if (!row) throw new NotFoundError(`There is no widget token ${id}.`);
  await authorize(ctx, actor, 'widget_token.manage', { project: row.projectKey, target: `widget:${id}` });
  await transaction(ctx, async (tx) => {
    if (!(await revokeToken(tx.em, 'widget', `jti:${id}`))) throw new NotFoundError(`There is no widget token ${id}.`);
    await audit(tx, { actor: actor.id, action: 'widget_token.revoked', target: `widget:${id}`, source: actor.platform });
  });
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
  const row = await findToken(em, 'widget', `jti:${id}`);
  if (!row || row.revokedAt) return { ok: false, reason: 'unauthorized: the widget token was revoked' };
  const origins = Array.isArray(payload.ori) ? payload.ori.map(String) : [];
  // Browsers always send Origin; a script without one is not a page that could be framed.
  if (origin && !origins.includes(origin)) return { ok: false, reason: `forbidden: this token is not valid on ${origin}` };
  return { ok: true, principal: { tokenId: id, projectKey: String(payload.prj), origins } };
}
