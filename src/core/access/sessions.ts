import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, CoreContext } from '../context.js';
import { audit } from '../audit/store.js';
import { authorize } from './authorize.js';
import { principalOf, unlessDatabaseDown } from './principal.js';
import { consumeToken, findPerson, findToken, insertSession, insertToken, linkHandles, revokeSessions, setDisplayName, touchSession, type SessionRow } from './store.js';
import { NotFoundError } from '../errors.js';

/**
 * Console sign-in and sessions. Sessions live in Postgres: the cookie carries a random token and
 * the table its SHA-256, so signing out (or an admin's "sign out everywhere") ends a session at
 * once, on every web process, with nothing to wait out. The first admin signs in through a
 * one-time link printed at start; everyone else through single sign-on (OpenID Connect).
 */

const SIGNIN_TTL_SECONDS = 24 * 3600;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

export type { SessionRow } from './store.js';

type Ctx = Pick<CoreContext, 'em' | 'logger'>;

export async function createSignInToken(em: EntityManager, subject: string, ttlSeconds = SIGNIN_TTL_SECONDS): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await insertToken(em, { kind: 'signin', tokenHash: hash(token), subject, expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
  return token;
}

/** Whether a sign-in link would still work, without using it up (a link preview must not burn it). */
export async function signInTokenIsLive(em: EntityManager, token: string): Promise<boolean> {
  const row = await findToken(em, 'signin', hash(token));
  return !!row && !row.usedAt && !row.revokedAt && !!row.expiresAt && row.expiresAt > new Date();
}

/** Consumed atomically: of two clicks on the same link, one signs in. */
export function consumeSignInToken(em: EntityManager, token: string): Promise<string | undefined> {
  return consumeToken(em, 'signin', hash(token));
}

export interface NewSession {
  subject: string;
  groups?: string[];
  displayName?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  ttlSeconds: number;
  /** How the person signed in, for the audit log. */
  via: 'link' | 'sso';
}

/** Starts a session; returns the cookie value (shown to nobody else, stored only as a hash). */
export async function startSession(ctx: Ctx, s: NewSession): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await insertSession(ctx.em, {
    tokenHash: hash(token),
    subject: s.subject,
    groups: s.groups ?? [],
    displayName: s.displayName ?? null,
    ip: s.ip ?? null,
    userAgent: s.userAgent?.slice(0, 300) ?? null,
    expiresAt: new Date(Date.now() + s.ttlSeconds * 1000),
  });
  await audit(ctx, { actor: s.subject, action: 'session.started', source: 'web', data: { via: s.via, ip: s.ip ?? null } });
  return token;
}

/** A live session for a cookie value, or undefined (unknown, expired or ended). */
export function sessionFor(em: EntityManager, token: string | undefined): Promise<SessionRow | undefined> {
  if (!token || token.length > 200) return Promise.resolve(undefined);
  return unlessDatabaseDown(touchSession(em, hash(token)));
}

/** Signing out: this session ends now. Returns the ended session ids (their sockets are closed). */
export async function endSession(ctx: Ctx, token: string): Promise<number[]> {
  const ids = await revokeSessions(ctx.em, { tokenHash: hash(token) });
  if (ids.length) await audit(ctx, { actor: 'web', action: 'session.ended', target: `session:${ids[0]}`, source: 'web' });
  return ids;
}

/** Ends every session of a person (every handle they hold): yourself, or anyone for an admin. */
export async function signOutEverywhere({ ctx, actor }: { ctx: CoreContext; actor: Actor }, personId?: number): Promise<number[]> {
  let handles: string[];
  if (personId === undefined) {
    // Your own credentials, under the rule for your own tokens: from an API token, only with "admin".
    await authorize(ctx, actor, 'api_token.own');
    handles = (await principalOf(ctx, actor)).handles;
  } else {
    await authorize(ctx, actor, 'people.manage', { target: `user:${personId}` });
    const person = await findPerson(ctx.em, personId);
    if (!person) throw new NotFoundError(`There is no person ${personId}.`);
    handles = person.identities;
  }
  const ids = await revokeSessions(ctx.em, { subjects: handles });
  await audit(ctx, { actor: actor.id, action: 'session.signed_out_everywhere', target: personId ? `user:${personId}` : actor.id, source: actor.platform, data: { sessions: ids.length } });
  return ids;
}

/** What an OpenID Connect provider said about the person who signed in. */
export interface SsoClaims {
  sub: string;
  email?: string | undefined;
  emailVerified?: boolean | undefined;
  name?: string | undefined;
  groups?: string[] | undefined;
}

/**
 * A single sign-on: the person is `sso:<sub>`, joined to `email:<address>` when the provider
 * verified it (so people listed by email in autodevhub.yaml get their roles), then a session.
 */
export async function signInWithSso(ctx: Ctx, claims: SsoClaims, meta: { ip?: string | null; userAgent?: string | null; ttlSeconds: number }): Promise<{ token: string; subject: string }> {
  const subject = `sso:${claims.sub}`;
  const handles = [subject, ...(claims.email && claims.emailVerified ? [`email:${claims.email.toLowerCase()}`] : [])];
  const userId = await linkHandles(ctx.em, handles);
  if (claims.name) await setDisplayName(ctx.em, userId, claims.name.slice(0, 200));
  const token = await startSession(ctx, { subject, groups: claims.groups ?? [], displayName: claims.name ?? claims.email ?? null, ip: meta.ip ?? null, userAgent: meta.userAgent ?? null, ttlSeconds: meta.ttlSeconds, via: 'sso' });
  return { token, subject };
}
