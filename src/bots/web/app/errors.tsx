import type { Context } from 'hono';
import { AppError } from '../../../core/errors.js';
import { Layout, type Viewer } from './layout.js';

/** Error pages in words, in the app's own look (sign-in errors included). */

const TITLES: Record<number, string> = {
  400: 'That request could not be understood',
  401: 'Please sign in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'That changed meanwhile',
  429: 'Too many requests',
  500: 'Something went wrong',
};

export function ErrorPage(p: { status: number; message: string; viewer?: Viewer | undefined; children?: unknown }) {
  return (
    <Layout title={TITLES[p.status] ?? TITLES[500]!} viewer={p.viewer}>
      <div class="error-page" role="alert">
        <p>{p.message}</p>
        {(p.children as never) ?? null}
        <p>
          <a href="/dashboard">Go to the dashboard</a> · <a href="/">New command</a>
        </p>
      </div>
    </Layout>
  );
}

/** An error as a page: core's errors keep their words; anything else is our fault, said plainly. */
export function errorPageFor(err: Error): { status: number; message: string } {
  if (err instanceof AppError && err.status < 500) return { status: err.status, message: err.message };
  return { status: 500, message: 'Something went wrong on our side. Try again in a moment; if it keeps happening, the server log has the details.' };
}

export function SignInError() {
  return (
    <ErrorPage status={401} message="This sign-in link is invalid, expired or already used.">
      <p>
        Ask whoever runs AutoDevHub for a new one: every start prints one, and with <code>DATABASE_URL</code> set <code>npm run signin-link</code> makes another while
        it runs. If your organisation set up single sign-on, use it on <a href="/">the sign-in page</a>.
      </p>
    </ErrorPage>
  );
}

/** No route: a page in words for a browser, JSON for everything else. */
export async function notFoundPage(c: Context): Promise<Response> {
  const path = c.req.path.slice(0, 100);
  if (path.startsWith('/api/') || !(c.req.header('accept') ?? '').includes('text/html')) return c.json({ error: 'not_found', message: `No route for ${c.req.method} ${path}` }, 404);
  c.header('content-security-policy', "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'");
  return c.html(`<!doctype html>${await ErrorPage({ status: 404, message: `There is no page at ${path}. Runs are at /runs, stories at /stories.` })}`, 404);
}

/**
 * The one-time link opens this page and signs in only when the button is pressed (a POST): a chat
 * link preview or a mail scanner that fetches the link does not use it up.
 */
export function SignInConfirm(p: { token: string }) {
  return (
    <Layout title="Sign in">
      <div class="signin-confirm">
        <p>This one-time link signs you in to the AutoDevHub console. It works once.</p>
        <form method="post" action="/auth/signin">
          <input type="hidden" name="token" value={p.token} />
          <button type="submit">Sign in</button>
        </form>
      </div>
    </Layout>
  );
}
