import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { CoreContext } from '../../core/context.js';
import { runCommand } from '../../core/services/commands.js';
import { consumeSignInToken, SESSION_TTL_SECONDS, signSession, verifySession, type Session } from '../../core/services/auth.js';
import { eventsAfter, getRun, listRuns } from '../../core/services/runs.js';
import { findStoryByRun } from '../../core/services/stories.js';
import { UnauthorizedError, ValidationError } from '../../core/errors.js';
import { MAX_DESCRIPTION_LENGTH } from '../../core/commands.js';
import { createWidgetToken, listWidgetTokens, revokeWidgetToken } from '../../core/services/widget-tokens.js';

export const SESSION_COOKIE = 'adh_session';

export interface WebOptions {
  secret: string;
  secureCookies: boolean;
  context: () => CoreContext;
  admins: string[];
  onWidgetTokenRevoked(tokenId: string): Promise<void>;
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
  const feedCss = asset('../../realtime/client/feed.css');
  const widgetScript = buildWidgetScript(feedJs, feedCss, asset('../../realtime/client/widget.js'));
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
  const staticFile = (body: string, type: string) => (c: Context) => {
    c.header('content-type', `${type}; charset=utf-8`);
    c.header('cache-control', 'public, max-age=300');
    return c.body(body);
  };
  app.get('/assets/feed.js', staticFile(feedJs, 'text/javascript'));
  app.get('/assets/feed.css', staticFile(feedCss, 'text/css'));
  // Embedded on other sites by a script tag; the token it is given decides what it may see.
  app.get('/widget.js', (c) => {
    c.header('access-control-allow-origin', '*');
    c.header('cross-origin-resource-policy', 'cross-origin');
    return staticFile(widgetScript, 'text/javascript')(c);
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
    const project = (body as { project?: unknown }).project;
    if (project !== undefined && project !== null && typeof project !== 'string') throw new ValidationError('"project" must be a project key.');
    if (text.length > MAX_DESCRIPTION_LENGTH + 200) {
      throw new ValidationError(`The command is ${text.length} characters; a story description may be ${MAX_DESCRIPTION_LENGTH}.`);
    }
    const deliveryId = c.req.header('idempotency-key') ?? randomUUID();
    const ctx = opts.context();
    if (project) {
      const known: unknown[] = await ctx.em.getConnection().execute(`select 1 from projects where key = ?`, [project]);
      if (!known.length) throw new ValidationError(`There is no project "${project}".`);
    }
    const reply = await runCommand(
      { ctx, actor: { id: s.subject, platform: 'web', channel: null } },
      { text, deliveryId: deliveryId.slice(0, 200), prefix: '', ...(project && { projectKey: project }) },
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

  app.get('/api/v1/projects', async (c) => {
    await requireSession(c);
    const rows: Array<{ key: string; repo: string | null }> = await opts.context().em.getConnection().execute(`select key, repo from projects order by key`);
    return c.json({ projects: rows });
  });

  app.post('/api/v1/widget-tokens', async (c) => {
    const s = await requireSession(c);
    const body = (await c.req.json().catch(() => {
      throw new ValidationError('The body is not valid JSON.');
    })) as { project?: unknown; origins?: unknown; ttlDays?: unknown; name?: unknown };
    if (typeof body.project !== 'string') throw new ValidationError('Give {"project": "<key>", "origins": ["https://…"]}.');
    const { token, info } = await createWidgetToken(
      { em: opts.context().em, secret: opts.secret, actor: { id: s.subject, platform: 'web' }, admins: opts.admins },
      {
        projectKey: body.project,
        origins: Array.isArray(body.origins) ? body.origins.map(String) : [],
        ...(body.ttlDays !== undefined && { ttlDays: Number(body.ttlDays) }),
        ...(typeof body.name === 'string' && { name: body.name }),
      },
    );
    const base = new URL(c.req.url).origin;
    const snippet = `<script src="${base}/widget.js" data-project="${info.projectKey}" data-token="${token}" async></script>`;
    return c.json({ token, ...info, snippet }, 201);
  });

  app.get('/api/v1/widget-tokens', async (c) => {
    await requireSession(c);
    return c.json({ tokens: await listWidgetTokens(opts.context().em, c.req.query('project')) });
  });

  app.delete('/api/v1/widget-tokens/:id', async (c) => {
    const s = await requireSession(c);
    const id = c.req.param('id');
    await revokeWidgetToken({ em: opts.context().em, actor: { id: s.subject, platform: 'web' }, admins: opts.admins }, id);
    await opts.onWidgetTokenRevoked(id);
    return c.body(null, 204);
  });

  return app;
}
