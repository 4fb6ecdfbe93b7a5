import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import type { CoreContext, LimitState } from '../../../core/context.js';
import { AppError, UnauthorizedError, ValidationError } from '../../../core/errors.js';
import { unstorableText, utf8Text } from '../../../core/runs/model.js';
import { authenticate, sameOriginOnly, type WebAuth } from '../auth.js';

/**
 * The REST API's frame: one OpenAPIHono app for every /api/v1 route, so that each route's
 * request and response shapes are code (zod) and the OpenAPI 3.1 document is generated from them.
 * Around every route: URL sanity, authentication (bearer token or console session, from the
 * headers), the Origin check for cookie-carried changes, a rate limit per token or session, then
 * the body (size, UTF-8, storable text) only for a caller who passed them all, and one error shape.
 */

export interface ApiDeps {
  context: () => CoreContext;
  publicUrl: () => string;
  logger: Logger;
  /** Widget tokens are signed with it. */
  secret: string;
  /** A widget token (its id) or an API token (`api:<id>`) was revoked: its live sockets are closed on every web process. */
  onTokenRevoked(tokenId: string): Promise<void>;
  /** Sessions just ended: their sockets are closed on every web process. */
  onSessionsEnded(ids: number[]): Promise<void>;
}

export type ApiEnv = { Variables: { auth: WebAuth; ctx: CoreContext; requestId: string } };
export type Api = OpenAPIHono<ApiEnv>;

/** 429 with the wait; the API answers it with Retry-After. */
export class RateLimitedError extends AppError {
  override readonly status = 429;
  override readonly code = 'rate_limited';
}

/** Every error, from every route, in one shape: { error, message, requestId }. */
export function errorResponse(err: Error, c: Context, logger: Logger): Response {
  const requestId = c.get('requestId') as string | undefined;
  if (err instanceof AppError) {
    const retry = err.details?.retryAfterSeconds;
    if (typeof retry === 'number') c.header('retry-after', String(retry));
    return c.json({ error: err.code, message: err.message, ...(requestId && { requestId }), ...(err.details?.reply as object | undefined) }, err.status as 400);
  }
  if (err instanceof HTTPException) {
    // The body is JSON only: a cross-site form cannot send it without a CORS preflight.
    if (err.status === 415) return c.json({ error: 'invalid_input', message: 'Send JSON with content-type application/json.', ...(requestId && { requestId }) }, 400);
    const message = err.status === 400 ? 'The body is not valid JSON.' : err.message;
    return c.json({ error: err.status === 400 ? 'invalid_input' : 'http_error', message, ...(requestId && { requestId }) }, err.status);
  }
  logger.error({ err, requestId }, 'unhandled error');
  return c.json({ error: 'internal', message: 'Something went wrong on our side.', ...(requestId && { requestId }) }, 500);
}

/** The first problem of a failed validation, as a 400's message: "limit: Too big". */
export function validationError(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): ValidationError {
  const issue = issues[0]!;
  return new ValidationError(`${issue.path.map(String).join('.') || 'input'}: ${issue.message}`);
}

export function rateHeaders(c: Context, state: LimitState, windowMs: number): void {
  c.header('ratelimit-limit', String(state.limit));
  c.header('ratelimit-remaining', String(state.remaining));
  c.header('ratelimit-reset', String(Math.ceil(state.resetMs / 1000)));
  c.header('ratelimit-policy', `${state.limit};w=${Math.round(windowMs / 1000)}`);
}

export const API_MAX_BODY_BYTES = 1024 * 1024;

export function createApi(deps: ApiDeps & { apiWindowMs: number }): Api {
  const api = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error.issues);
    },
  });
  api.onError((err, c) => errorResponse(err, c, deps.logger));

  // Bad input anywhere in an API URL gets a 400 with words, before any handler runs.
  api.use('/api/*', async function apiUrl(c, next) {
    let decoded: string;
    try {
      const url = new URL(c.req.url);
      decoded = decodeURIComponent(url.pathname + url.search);
    } catch {
      throw new ValidationError('The URL is not valid (a % escape is broken).');
    }
    if (unstorableText(decoded)) throw new ValidationError('The URL contains a NUL or a broken Unicode character.');
    await next();
  });

  // Who asks is known from the headers alone, before a byte of the body is read: a request
  // without credentials is answered 401 at once and its body never enters memory.
  api.use('/api/v1/*', async function who(c, next) {
    if (c.req.path === '/api/v1/openapi.json') return next();
    const ctx = deps.context();
    let auth: WebAuth | undefined;
    try {
      auth = await authenticate(ctx, c);
    } catch (err) {
      if (hasBody(c)) c.header('connection', 'close');
      throw err;
    }
    if (!auth) {
      if (hasBody(c)) c.header('connection', 'close');
      throw new UnauthorizedError('Sign in first (the console), or send an API token: Authorization: Bearer adh_…');
    }
    c.set('ctx', ctx);
    c.set('auth', auth);
    await next();
  });
  api.use('/api/v1/*', sameOriginOnly(deps.publicUrl));
  api.use('/api/v1/*', async function perCredential(c, next) {
    const auth = c.get('auth');
    const limits = c.get('ctx')?.limits;
    if (!auth || !limits) return next();
    const state = await limits.consume('api', auth.key);
    rateHeaders(c, state, deps.apiWindowMs);
    if (!state.ok) {
      const seconds = Math.max(1, Math.ceil(state.resetMs / 1000));
      if (hasBody(c)) c.header('connection', 'close');
      throw new RateLimitedError(`Too many requests: ${state.limit} per ${Math.round(deps.apiWindowMs / 1000)} s for this ${auth.kind}. Try again in ${seconds} s.`, { retryAfterSeconds: seconds });
    }
    await next();
  });

  // No API request needs more than this; a larger body is refused (413) while it arrives, unread.
  api.use(
    '/api/*',
    bodyLimit({ maxSize: API_MAX_BODY_BYTES, onError: (c) => c.json({ error: 'payload_too_large', message: `API requests are at most ${API_MAX_BODY_BYTES / 1024} KiB.` }, 413, { connection: 'close' }) }),
  );
  api.use('/api/*', async function apiBody(c, next) {
    // Only a caller who is known gets its body read (routes outside /api/v1 answer 404 unread).
    if (!c.get('auth') || !hasBody(c)) return next();
    // A body that is not UTF-8 is refused, never read with replacement characters in it.
    if (utf8Text(new Uint8Array(await c.req.arrayBuffer())) === undefined) {
      throw new ValidationError('The request body is not valid UTF-8.');
    }
    // Commands answer such text in their own words (a reply with usage), everything else here.
    if (c.req.path !== '/api/v1/commands' && /json/i.test(c.req.header('content-type') ?? '')) {
      // Malformed JSON is left to the route's validator; text Postgres cannot store is refused here.
      const body: unknown = await c.req.json().catch(() => undefined);
      const odd = unstorableIn(body);
      if (odd) throw new ValidationError(`The request contains ${odd}; remove it and try again.`);
    }
    await next();
  });
  return api;
}

/** A request that may carry a body (anything but GET and HEAD). */
function hasBody(c: Context): boolean {
  return c.req.method !== 'GET' && c.req.method !== 'HEAD';
}

/** The first string (or key) in a JSON value that Postgres cannot store, described. */
function unstorableIn(value: unknown, depth = 0): string | undefined {
  if (typeof value === 'string') return unstorableText(value);
  if (depth > 20 || value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const odd = unstorableText(k) ?? unstorableIn(v, depth + 1);
    if (odd) return odd;
  }
  return undefined;
}

/** The core context and actor of a request. */
export function caller(c: Context<ApiEnv>) {
  return { ctx: c.get('ctx'), actor: c.get('auth').actor };
}
