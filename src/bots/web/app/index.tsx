import { Hono, type Context } from 'hono';
import type { Logger } from 'pino';
import type { CoreContext } from '../../../core/context.js';
import { can } from '../../../core/access/authorize.js';
import { authenticate } from '../auth.js';
import type { Viewer } from './layout.js';
import type { PageCall } from './page.js';
import { dashboardPage } from './dashboard.js';
import { runPage, runsPage } from './runs.js';
import { featureFile, storiesPage, storyPage } from './stories.js';
import { approvalsPage } from './approvals.js';
import { settingsPage } from './settings.js';
import { ErrorPage, errorPageFor } from './errors.js';
import { ValidationError } from '../../../core/errors.js';
import { unstorableText } from '../../../core/runs/model.js';

/**
 * The web app's pages, rendered on the server (Hono JSX) from core's read verbs; the small script
 * /assets/app.js adds live updates and the buttons, which call /api/v1 like any client.
 */

export interface AppPagesOptions {
  context: () => CoreContext;
  logger: Logger;
}

export const APP_PATHS = ['/dashboard', '/runs', '/runs/*', '/stories', '/stories/*', '/approvals', '/settings'];

type Render = (call: PageCall) => Promise<unknown>;

export function createAppPages(opts: AppPagesOptions): Hono {
  const app = new Hono();
  const html = async (c: Context, body: unknown, status = 200) => {
    c.header('cache-control', 'no-store');
    return c.html(`<!doctype html>${await (body as Promise<string> | string)}`, status as 200);
  };
  const call = async (c: Context): Promise<PageCall | undefined> => {
    // Postgres cannot hold a NUL or a lone surrogate: such a search or filter is refused in words.
    const odd = Object.values(c.req.queries()).flat().map(unstorableText).find(Boolean);
    if (odd) throw new ValidationError(`The address contains ${odd}; remove it and try again.`);
    const ctx = opts.context();
    const auth = await authenticate(ctx, c);
    if (!auth) return undefined;
    const viewer: Viewer = { name: auth.actor.displayName ?? auth.actor.id, admin: (await can(ctx, auth.actor, 'roles.read')).allowed };
    c.set('viewer' as never, viewer as never);
    return { ctx, actor: auth.actor, viewer, query: c.req.query(), param: c.req.param() as Record<string, string> };
  };
  const page = (render: Render) => async (c: Context) => {
    const p = await call(c);
    if (!p) return c.redirect('/', 303);
    return html(c, await render(p));
  };
  app.get('/dashboard', page(dashboardPage));
  app.get('/runs', page(runsPage));
  app.get('/runs/:ref{R-[0-9]+}', page(runPage));
  app.get('/stories', page(storiesPage));
  app.get('/stories/:id{[0-9]{1,15}}', page(storyPage));
  app.get('/stories/:id{[0-9]{1,15}}/feature', async (c) => {
    const p = await call(c);
    if (!p) return c.redirect('/', 303);
    const file = await featureFile(p);
    c.header('content-disposition', `attachment; filename="${file.name}"`);
    return c.body(file.body, 200, { 'content-type': 'text/plain; charset=utf-8' });
  });
  app.get('/approvals', page(approvalsPage));
  app.get('/settings', page(settingsPage));
  app.notFound((c) => html(c, ErrorPage({ status: 404, message: `There is no page at ${c.req.path.slice(0, 100)}. Runs are at /runs/R-1042, stories at /stories/12.` }), 404));
  app.onError((err, c) => {
    const e = errorPageFor(err);
    if (e.status === 500) opts.logger.error({ err }, 'page failed');
    return html(c, ErrorPage({ ...e, viewer: c.get('viewer' as never) as Viewer | undefined }), e.status);
  });
  return app;
}
