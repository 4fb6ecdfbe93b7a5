import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { CoreContext } from '../../core/context.js';
import { runCommand } from '../../core/services/commands.js';
import { consumeSignInToken, SESSION_TTL_SECONDS, signSession, verifySession, type Session } from '../../core/services/auth.js';
import { eventsAfter, getRun, listRuns } from '../../core/services/runs.js';
import { findStoryByRun } from '../../core/services/stories.js';
import { UnauthorizedError, ValidationError } from '../../core/errors.js';
import { MAX_DESCRIPTION_LENGTH } from '../../core/commands.js';

export const SESSION_COOKIE = 'adh_session';

export interface WebOptions {
  secret: string;
  secureCookies: boolean;
  context: () => CoreContext;
}

/** Static files live beside the source and are copied beside the build output (npm run build). */
function asset(relative: string): string {
  return readFileSync(new URL(relative, import.meta.url), 'utf8');
}

export async function sessionFrom(secret: string, cookieHeader: string | undefined): Promise<Session | undefined> {
  const token = cookieHeader
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.slice(SESSION_COOKIE.length + 1);
  return verifySession(secret, token ? decodeURIComponent(token) : undefined);
}

export function createWebRoutes(opts: WebOptions): Hono {
  const consoleHtml = asset('./console.html');
  const feedJs = asset('../../realtime/client/feed.js');
  const app = new Hono();

  const session = (c: Context) => verifySession(opts.secret, getCookie(c, SESSION_COOKIE));
  const requireSession = async (c: Context) => {
    const s = await session(c);
    if (!s) throw new UnauthorizedError('Sign in first: open the sign-in link AutoDevHub printed at start.');
    return s;
  };

  const page = async (c: Context) => {
    const s = await session(c);
    c.header('cache-control', 'no-store');
    return c.html(consoleHtml.replace('__BODY_CLASS__', s ? 'signed-in' : 'anonymous'));
  };
  app.get('/', page);
  app.get('/runs/:ref{R-[0-9]+}', page);
  app.get('/assets/feed.js', (c) => {
    c.header('content-type', 'text/javascript; charset=utf-8');
    c.header('cache-control', 'public, max-age=300');
    return c.body(feedJs);
  });

  app.get('/auth/signin', async (c) => {
    const token = c.req.query('token');
    const subject = token ? await consumeSignInToken(opts.context().em, token) : undefined;
    if (!subject) {
      return c.html(
        '<!doctype html><title>AutoDevHub</title><p>This sign-in link is invalid, expired or already used. ' +
          'Make a new one on the server with <code>npm run signin-link</code>.</p>',
        401,
      );
    }
    setCookie(c, SESSION_COOKIE, await signSession(opts.secret, { subject, admin: true }), {
      httpOnly: true,
      sameSite: 'Strict',
      secure: opts.secureCookies,
      path: '/',
      maxAge: SESSION_TTL_SECONDS,
    });
    return c.redirect('/', 303);
  });
  app.post('/auth/signout', (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  });

  app.post('/api/v1/commands', async (c) => {
    const s = await requireSession(c);
    // JSON only: a cross-site form cannot send it without a CORS preflight, which we never grant.
    if (!(c.req.header('content-type') ?? '').startsWith('application/json')) {
      throw new ValidationError('Send JSON: {"text": "story …"} with content-type application/json.');
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ValidationError('The body is not valid JSON.');
    }
    const text = (body as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') throw new ValidationError('Give the command as {"text": "story …"}.');
    if (text.length > MAX_DESCRIPTION_LENGTH + 200) {
      throw new ValidationError(`The command is ${text.length} characters; a story description may be ${MAX_DESCRIPTION_LENGTH}.`);
    }
    const deliveryId = c.req.header('idempotency-key') ?? randomUUID();
    const reply = await runCommand(
      { ctx: opts.context(), actor: { id: s.subject, platform: 'web', channel: null } },
      { text, deliveryId: deliveryId.slice(0, 200), prefix: '' },
    );
    const status = reply.run && !reply.duplicate ? 202 : reply.error ? 400 : 200;
    return c.json({ text: reply.text.trim(), error: Boolean(reply.error), duplicate: Boolean(reply.duplicate), run: reply.run ?? null }, status);
  });

  app.get('/api/v1/runs', async (c) => {
    await requireSession(c);
    const project = c.req.query('project');
    const runs = await listRuns(opts.context().em, { ...(project && { projectKey: project }), limit: Number(c.req.query('limit') ?? 20) });
    return c.json({ runs });
  });

  app.get('/api/v1/runs/:ref', async (c) => {
    await requireSession(c);
    const ctx = opts.context();
    const run = await getRun(ctx.em, c.req.param('ref'));
    const [events, story] = await Promise.all([eventsAfter(ctx.em, run, 0), findStoryByRun(ctx, run.id)]);
    return c.json({ run, events, story: story ?? null });
  });

  return app;
}
