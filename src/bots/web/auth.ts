import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Actor, CoreContext } from '../../core/context.js';
import { ForbiddenError, UnauthorizedError } from '../../core/errors.js';
import { actorForApiToken } from '../../core/access/api-tokens.js';
import { sessionFor, type SessionRow } from '../../core/access/sessions.js';

/**
 * Who is asking, on the web surface: a bearer API token (scripts, CI) or the console's session
 * cookie (HttpOnly, SameSite=Strict, server-side). Cookie-authenticated requests that change
 * anything must come from the console's own origin.
 */

export const SESSION_COOKIE = 'adh_session';

export interface WebAuth {
  actor: Actor;
  kind: 'token' | 'session';
  /** Token id or session id: the key of the API rate limit. */
  key: string;
  session?: SessionRow;
}

export function sessionActor(session: SessionRow): Actor {
  return { id: session.subject, platform: 'web', channel: null, groups: session.groups, ...(session.displayName && { displayName: session.displayName }) };
}

/** The session a Cookie header carries (Socket.IO handshakes), if it is live. */
export async function sessionFromCookieHeader(ctx: Pick<CoreContext, 'em'>, cookieHeader: string | undefined): Promise<SessionRow | undefined> {
  const raw = cookieHeader
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.slice(SESSION_COOKIE.length + 1);
  return sessionFor(ctx.em, raw ? decodeURIComponent(raw) : undefined);
}

/** A bearer token when one is sent (a bad one is refused, never ignored), else the session cookie. */
export async function authenticate(ctx: Pick<CoreContext, 'em'>, c: Context): Promise<WebAuth | undefined> {
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const actor = m ? await actorForApiToken(ctx.em, m[1]!) : undefined;
    if (!actor) throw new UnauthorizedError('The API token is not valid: unknown, expired or revoked. Make one in the console (API tokens).');
    return { actor, kind: 'token', key: `token:${actor.tokenId}` };
  }
  const session = await sessionFor(ctx.em, getCookie(c, SESSION_COOKIE));
  if (!session) return undefined;
  return { actor: sessionActor(session), kind: 'session', key: `session:${session.id}`, session };
}

/**
 * The client's address: the socket's, or behind `proxies` trusted reverse proxies the address the
 * outermost of them saw, which is that many hops from the right of X-Forwarded-For. Each proxy
 * appends what connected to it, so the hops to the left are whatever the client chose to send.
 */
export function clientIp(c: Context, proxies: number): string {
  if (proxies > 0) {
    const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
    const forwarded = hops[Math.max(0, hops.length - proxies)];
    if (forwarded) return forwarded;
  }
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming?.socket.remoteAddress ?? 'unknown';
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The origins the console is served from: PUBLIC_URL's, and the Host the request came to. */
export function ownOrigins(c: Context, publicUrl: string): string[] {
  const host = c.req.header('host');
  return [new URL(publicUrl).origin, ...(host ? [`http://${host}`, `https://${host}`] : [])];
}

/**
 * Cross-site request forgery: a state-changing request carried by the cookie must come from the
 * console itself. Browsers always send Origin on such requests (and Sec-Fetch-Site); a request
 * with a bearer token carries no ambient credential and needs no check.
 */
export function sameOriginOnly(publicUrl: () => string): MiddlewareHandler {
  return async function sameOrigin(c, next) {
    if (UNSAFE.has(c.req.method) && c.req.header('authorization') === undefined) {
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      if (origin !== undefined && !ownOrigins(c, publicUrl()).includes(origin)) {
        throw new ForbiddenError(`Requests from ${origin.slice(0, 100)} are not accepted: use the console, or an API token (Authorization: Bearer).`);
      }
      if (origin === undefined && site !== undefined && site !== 'same-origin' && site !== 'none') {
        throw new ForbiddenError('Cross-site requests are not accepted: use the console, or an API token (Authorization: Bearer).');
      }
    }
    await next();
  };
}
