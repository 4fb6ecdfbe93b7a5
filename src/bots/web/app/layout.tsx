import type { Child } from 'hono/jsx';

/** The app's frame: one layout, one stylesheet and one script for every page (no build step). */

export interface Viewer {
  name: string;
  /** Settings are for admins; the link is shown only to them. */
  admin: boolean;
}

const NAV: Array<[string, string]> = [
  ['/dashboard', 'Dashboard'],
  ['/runs', 'Runs'],
  ['/stories', 'Stories'],
  ['/approvals', 'Approvals'],
  ['/', 'New command'],
  ['/settings', 'Settings'],
];

export function Layout(p: { title: string; viewer?: Viewer | undefined; active?: string; children: Child }) {
  const nav = NAV.filter(([href]) => href !== '/settings' || p.viewer?.admin);
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${p.title} · AutoDevHub`}</title>
        <link rel="icon" href="/assets/icon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">Skip to the content</a>
        <header class="top">
          <a class="brand" href="/dashboard">AutoDevHub</a>
          {p.viewer && (
            <nav aria-label="Main">
              <ul>
                {nav.map(([href, label]) => (
                  <li>
                    <a href={href} aria-current={p.active === href ? 'page' : undefined}>{label}</a>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          <div class="user">
            <button type="button" class="secondary" id="theme" aria-label="Switch between light and dark">◐</button>
            {p.viewer && (
              <>
                <span class="who">{p.viewer.name}</span>
                <form method="post" action="/auth/signout">
                  <button type="submit" class="secondary">Sign out</button>
                </form>
              </>
            )}
          </div>
        </header>
        <main id="main">
          <h1>{p.title}</h1>
          {p.children}
        </main>
      </body>
    </html>
  );
}

const ABSOLUTE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

export function absolute(at: string | Date): string {
  return `${ABSOLUTE.format(new Date(at))} UTC`;
}

/** "3 min ago", "in 2 h"; the page's script keeps it current. */
export function relative(at: string | Date, now = Date.now()): string {
  const s = Math.round((new Date(at).getTime() - now) / 1000);
  const a = Math.abs(s);
  const [n, unit] = a < 45 ? [0, 'now'] : a < 3600 ? [Math.round(a / 60), 'min'] : a < 86400 ? [Math.round(a / 3600), 'h'] : [Math.round(a / 86400), 'd'];
  if (unit === 'now') return 'just now';
  return s < 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
}

/** Relative and absolute, both visible: "3 min ago (22 Nov 2026, 04:40 UTC)". */
export function When(p: { at: string | Date | null | undefined }) {
  if (!p.at) return <span>—</span>;
  const iso = new Date(p.at).toISOString();
  return (
    <time datetime={iso} data-relative="" title={absolute(iso)}>
      <span class="rel">{relative(iso)}</span> <span class="abs">({absolute(iso)})</span>
    </time>
  );
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** An empty state says what to do next. */
export function Empty(p: { children: Child }) {
  return <div class="empty">{p.children}</div>;
}

export function Status(p: { status: string }) {
  return <span class={`badge s-${p.status}`}>{p.status.replace('_', ' ')}</span>;
}

export const NO_PROJECTS_EXAMPLE = ['projects:', '  - key: web', '    repo: acme/web', '    channels: ["slack:C0123"]', '    environments:', '      production: { required_approvals: 1 }'].join('\n');

/** No project is configured: say where projects come from, with an example. */
export function NoProjects() {
  return (
    <Empty>
      <p>
        <strong>No projects yet.</strong> Add one to <code>autodevhub.yaml</code> (or the file <code>AUTODEVHUB_CONFIG</code> names) and restart. For example:
      </p>
      <pre class="example">{NO_PROJECTS_EXAMPLE}</pre>
    </Empty>
  );
}
