import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import type { Logger } from 'pino';
import type { CoreContext } from '../../core/context.js';
import type { OidcConfig } from '../../core/config.js';
import { consumeSignInToken, endSession, signInTokenIsLive, signInWithSso, startSession } from '../../core/access/sessions.js';
import { clientIp, sameOriginOnly, SESSION_COOKIE, sessionActor, sessionFromCookieHeader, authenticate } from './auth.js';
import { createApiRoutes, mountApiDocs } from './api/index.js';
import { QUEUE_BOARD_CSP, QUEUE_BOARD_PATH } from './queue-board.js';
import { authorize } from '../../core/access/authorize.js';
import { errorResponse, RateLimitedError } from './api/app.js';
import { createOidc, OIDC_COOKIE } from './oidc.js';
import { UnauthorizedError } from '../../core/errors.js';
import { APP_PATHS, createAppPages } from './app/index.js';
import { ErrorPage, errorPageFor, SignInConfirm, SignInError } from './app/errors.js';
export { notFoundPage } from './app/errors.js';
import { usageRows } from '../../core/commands/grammar.js';
import { MAX_DESCRIPTION_LENGTH } from '../../core/commands/grammar.js';

export { SESSION_COOKIE, sessionActor, sessionFromCookieHeader };

export interface WebOptions {
  secret: string;
  secureCookies: boolean;
  publicUrl: () => string;
  context: () => CoreContext;
  logger: Logger;
  sessionTtlSeconds: number;
  /** Proxies in front that append to X-Forwarded-For (0: none). */
  trustProxy: number;
  oidc: OidcConfig | undefined;
  apiWindowMs: number;
  /** A widget token (its id) or an API token (`api:<id>`) was revoked: its live sockets are closed on every web process. */
  onTokenRevoked(tokenId: string): Promise<void>;
  /** Sessions just ended (sign-out, sign out everywhere): close their sockets on every process. */
  onSessionsEnded(ids: number[]): Promise<void>;
  /** bull-board, mounted at /admin/queues for admins. */
  queueBoard?: Hono;
}

/**
 * GET /widget.js: the Socket.IO client (kept off the host page's own `io`), the feed component
 * and the widget bootstrap with the feed's stylesheet, in one file.
 */
function buildWidgetScript(feedJs: string, feedCss: string, widgetJs: string): string {
  const require = createRequire(import.meta.url);
  const ioClient = readFileSync(join(dirname(require.resolve('socket.io/package.json')), 'client-dist/socket.io.min.js'), 'utf8');
  return [
    '/* AutoDevHub live feed widget. Includes the Socket.IO client (MIT). */',
    '(function () {',
    'var __hostIo = window.io, __hostDefine = window.define, __hostModule = window.module;',
    // Keep the UMD bundle from registering with an AMD or CommonJS loader the host page may have.
    'window.define = undefined; window.module = undefined;',
    ioClient.replace(/\/\/# sourceMappingURL=.*$/m, ''),
    'window.__adhIo = window.io; window.io = __hostIo; window.define = __hostDefine; window.module = __hostModule;',
    feedJs,
    widgetJs.replaceAll('__ADH_CSS__', JSON.stringify(feedCss)),
    '})();',
  ].join('\n');
}

/** Static files live beside the source and are copied beside the build output (npm run build). */
function asset(relative: string): string {
  return readFileSync(new URL(relative, import.meta.url), 'utf8');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Console pages: scripts and styles from this origin only, never framed, no referrer leaks. */
const consoleHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    frameAncestors: ["'none'"],
    formAction: ["'self'"],
    baseUri: ["'none'"],
    objectSrc: ["'none'"],
  },
  xFrameOptions: 'DENY',
  referrerPolicy: 'same-origin',
  strictTransportSecurity: false,
});
/** API answers: nothing to render, nothing to frame. */
const apiHeaders = secureHeaders({ contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] }, xFrameOptions: 'DENY', referrerPolicy: 'same-origin', strictTransportSecurity: false });

export function createWebRoutes(opts: WebOptions): Hono {
  const consoleHtml = asset('./console.html');
  const feedJs = asset('../../realtime/client/feed.js');
  const feedCss = asset('../../realtime/client/feed.css');
  const files: Record<string, [string, string]> = {
    'feed.js': [feedJs, 'text/javascript'],
    'feed.css': [feedCss, 'text/css'],
    'console.js': [asset('./console.js'), 'text/javascript'],
    'console.css': [asset('./console.css'), 'text/css'],
    'app.js': [asset('./app/app.js'), 'text/javascript'],
    'app.css': [asset('./app/app.css'), 'text/css'],
    'icon.svg': [asset('./icon.svg'), 'image/svg+xml'],
  };
  const widgetScript = buildWidgetScript(feedJs, feedCss, asset('../../realtime/client/widget.js'));
  const oidc = opts.oidc ? createOidc(opts.oidc, opts.secret, opts.publicUrl) : undefined;
  const usageTable = usageRows()
    .map((u) => `<tr><th scope="row"><code>${escapeHtml(u.synopsis)}</code></th><td>${escapeHtml(u.text).replaceAll('\n', '<br>')}</td></tr>`)
    .join('');
  const app = new Hono();
  app.onError(async (err, c) => {
    // A person's browser (a sign-in that failed, say) gets a page in words; scripts get JSON.
    if (c.req.path.startsWith('/api/') || !(c.req.header('accept') ?? '').includes('text/html')) return errorResponse(err, c, opts.logger);
    const e = errorPageFor(err);
    if (e.status === 500) opts.logger.error({ err }, 'page failed');
    return c.html(`<!doctype html>${await ErrorPage(e)}`, e.status as 400);
  });
  for (const path of ['/', '/link', '/auth/*', '/assets/*', ...APP_PATHS]) app.use(path, consoleHeaders);
  app.use('/api/v1/*', apiHeaders);
  // Every state-changing console route (sign-out included) comes from the console's own origin.
  app.use('/auth/*', sameOriginOnly(opts.publicUrl));
  app.use('/auth/*', bodyLimit({ maxSize: 8 * 1024, onError: (c) => c.text('Sign-in forms are at most 8 KiB.', 413, { connection: 'close' }) }));

  const page = async (c: Context) => {
    const auth = await authenticate(opts.context(), c).catch(() => undefined);
    c.header('cache-control', 'no-store');
    const who = auth ? escapeHtml(auth.actor.displayName ?? auth.actor.id) : '';
    return c.html(
      consoleHtml
        .replace('__BODY_CLASS__', auth ? 'signed-in' : 'anonymous')
        .replace('__WHO__', who)
        .replace('__SSO__', oidc ? escapeHtml(oidc.label) : '')
        .replaceAll('__LIMIT__', String(MAX_DESCRIPTION_LENGTH))
        .replace('__USAGE__', usageTable),
    );
  };
  app.get('/', page);
  app.get('/link', page);
  app.get('/assets/:file', (c) => {
    const file = files[c.req.param('file')];
    if (!file) return c.json({ error: 'not_found', message: 'No such asset' }, 404);
    c.header('content-type', `${file[1]}; charset=utf-8`);
    c.header('cache-control', 'public, max-age=300');
    return c.body(file[0]);
  });
  // Browsers ask for /favicon.ico before reading the page's icon link: the same icon.
  app.get('/favicon.ico', (c) => c.body(files['icon.svg']![0], 200, { 'content-type': 'image/svg+xml', 'cache-control': 'public, max-age=86400' }));
  // Embedded on other sites by a script tag; the token it is given decides what it may see.
  app.get('/widget.js', (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'public, max-age=300');
    c.header('access-control-allow-origin', '*');
    c.header('cross-origin-resource-policy', 'cross-origin');
    c.header('x-content-type-options', 'nosniff');
    return c.body(widgetScript);
  });

  app.route('/', createAppPages(opts));
  mountAuth(app, opts, oidc);
  if (opts.queueBoard) mountQueueBoard(app, opts, opts.queueBoard);
  mountApiDocs(app);
  app.route('/', createApiRoutes({ ...opts, publicUrl: opts.publicUrl }));
  return app;
}

/** bull-board at /admin/queues: for people who may manage the queues (admins), under a strict CSP. */
function mountQueueBoard(app: Hono, opts: WebOptions, board: Hono): void {
  const guard = async (c: Context, next: () => Promise<void>) => {
    const ctx = opts.context();
    const auth = await authenticate(ctx, c);
    if (!auth) throw new UnauthorizedError('Sign in first: open the sign-in link AutoDevHub printed at start.');
    await authorize(ctx, auth.actor, 'queues.manage');
    await next();
    c.header('content-security-policy', QUEUE_BOARD_CSP);
    c.header('cache-control', 'no-store');
  };
  // Pausing, retrying or adding jobs with the cookie: from the console's own origin only, as everywhere.
  const sameOrigin = sameOriginOnly(opts.publicUrl);
  app.use(QUEUE_BOARD_PATH, sameOrigin, guard);
  app.use(`${QUEUE_BOARD_PATH}/*`, sameOrigin, guard);
  app.route(QUEUE_BOARD_PATH, board);
}

/** Per client address: sign-in attempts (links, single sign-on) are limited. */
async function signInLimit(opts: WebOptions, c: Context): Promise<void> {
  const limits = opts.context().limits;
  if (!limits) return;
  const state = await limits.consume('signin', clientIp(c, opts.trustProxy));
  if (!state.ok) {
    const seconds = Math.max(1, Math.ceil(state.resetMs / 1000));
    throw new RateLimitedError(`Too many sign-in attempts from your address. Try again in ${seconds} s.`, { retryAfterSeconds: seconds });
  }
}

function setSession(c: Context, opts: WebOptions, token: string) {
  setCookie(c, SESSION_COOKIE, token, { httpOnly: true, sameSite: 'Strict', secure: opts.secureCookies, path: '/', maxAge: opts.sessionTtlSeconds });
}

/** After a sign-in that arrived from another site, a same-site step so the Strict cookie is sent. */
function continuePage(c: Context) {
  c.header('cache-control', 'no-store');
  return c.html('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>AutoDevHub</title></head><body><p>Signed in. <a href="/">Continue to the console</a>.</p></body></html>');
}

function mountAuth(app: Hono, opts: WebOptions, oidc: ReturnType<typeof createOidc> | undefined) {
  // Opening the link shows a button; pressing it (a POST) uses the link up.
  app.get('/auth/signin', async (c) => {
    await signInLimit(opts, c);
    const token = c.req.query('token');
    c.header('cache-control', 'no-store');
    if (!token || !(await signInTokenIsLive(opts.context().em, token))) return c.html(`<!doctype html>${await SignInError()}`, 401);
    return c.html(`<!doctype html>${await SignInConfirm({ token })}`);
  });

  app.post('/auth/signin', async (c) => {
    await signInLimit(opts, c);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const token = typeof form.token === 'string' ? form.token : undefined;
    const ctx = opts.context();
    const subject = token ? await consumeSignInToken(ctx.em, token) : undefined;
    if (!subject) {
      return c.html(`<!doctype html>${await SignInError()}`, 401);
    }
    setSession(c, opts, await startSession(ctx, { subject, ttlSeconds: opts.sessionTtlSeconds, ip: clientIp(c, opts.trustProxy), userAgent: c.req.header('user-agent') ?? null, via: 'link' }));
    return c.redirect('/', 303);
  });

  app.get('/auth/oidc/login', async (c) => {
    await signInLimit(opts, c);
    if (!oidc) return c.json({ error: 'not_found', message: 'Single sign-on is not configured: set OIDC_ISSUER and OIDC_CLIENT_ID.' }, 404);
    const { url, cookie } = await oidc.start();
    // Lax: the provider sends the browser back with a cross-site navigation.
    setCookie(c, OIDC_COOKIE, cookie, { httpOnly: true, sameSite: 'Lax', secure: opts.secureCookies, path: '/auth/oidc', maxAge: 600 });
    return c.redirect(url, 302);
  });

  app.get('/auth/oidc/callback', async (c) => {
    await signInLimit(opts, c);
    if (!oidc) return c.json({ error: 'not_found', message: 'Single sign-on is not configured.' }, 404);
    const claims = await oidc.finish(new URL(c.req.url), getCookie(c, OIDC_COOKIE));
    deleteCookie(c, OIDC_COOKIE, { path: '/auth/oidc' });
    const { token } = await signInWithSso(opts.context(), claims, { ip: clientIp(c, opts.trustProxy), userAgent: c.req.header('user-agent') ?? null, ttlSeconds: opts.sessionTtlSeconds });
    setSession(c, opts, token);
    return continuePage(c);
  });

  // Ends the session server-side: the cookie is worthless from now on, wherever a copy of it is.
  app.post('/auth/signout', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await opts.onSessionsEnded(await endSession(opts.context(), token));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  });
}
