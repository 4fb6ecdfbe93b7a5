import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { getRun } from '../../src/core/runs/store.js';
import { tempDir } from '../helpers/tmp.js';

const GH_TOKEN = 'ghp_docs_token';
const SECRET = 'webhook-secret-for-tests';
const BASE = '1'.repeat(40);
const HEAD = '2'.repeat(40);
const HEAD2 = '3'.repeat(40);
const BIG = '4'.repeat(40);

// GitHub's own example payloads (octokit/webhooks), adapted to our repository.
const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, any>> }>;
const pushExample = examples.find((e) => e.name === 'push')!.examples[0]!;
const pingExample = examples.find((e) => e.name === 'ping')!.examples[0]!;

function pushPayload(over: { ref?: string; before?: string; after: string; message?: string }) {
  const p = structuredClone(pushExample);
  p.ref = over.ref ?? 'refs/heads/main';
  p.before = over.before ?? BASE;
  p.after = over.after;
  p.deleted = false;
  p.repository = { ...p.repository, full_name: 'acme/web', name: 'web', default_branch: 'main', master_branch: 'main' };
  const message = over.message ?? 'Add saved carts';
  p.commits = [{ ...(p.commits?.[0] ?? {}), id: over.after, message }];
  p.head_commit = { ...(p.head_commit ?? {}), id: over.after, message };
  return p;
}

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let delivery = 0;

async function hook(event: string, payload: unknown, opts: { deliveryId?: string; secret?: string; signature?: string } = {}) {
  const body = JSON.stringify(payload);
  const res = await fetch(`${t.url}/github/webhooks`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': opts.deliveryId ?? `d-${++delivery}-${Date.now()}`,
      'x-hub-signature-256': opts.signature ?? (await sign(opts.secret ?? SECRET, body)),
      'user-agent': 'GitHub-Hookshot/abc',
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function runsCount(): Promise<number> {
  const rows: Array<{ n: string }> = await t.app.context().em.getConnection().execute(`select count(*) as n from workflow_runs where kind = 'docs'`);
  return Number(rows[0]!.n);
}

const CART_PATCH = [
  '@@ -1,5 +1,7 @@',
  '-export function oldCart(): Cart {',
  '-export function loadCart(id: string): Cart {',
  '+export function loadCart(id: string, opts?: LoadOptions): Cart {',
  '+export async function saveCart(cart: Cart): Promise<void> {',
  '+export interface LoadOptions {',
  ' const x = 1;',
].join('\n');

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: HEAD });
  github.setParent(HEAD, BASE);
  github.setFile('acme/web', 'main', 'docs/CHANGELOG.md', '# Changelog\n\n## 2026-11-01: earlier\n\n- Something older\n');
  const files = [
    { filename: 'src/cart.ts', status: 'modified', additions: 3, deletions: 2, changes: 5, patch: CART_PATCH },
    { filename: 'docs/guide.md', status: 'modified', additions: 1, deletions: 0, changes: 1, patch: '@@ -1 +1 @@\n+more' },
    { filename: 'package-lock.json', status: 'modified', additions: 10, deletions: 10, changes: 20, patch: '@@ -1 +1 @@\n-a\n+b' },
    { filename: 'dist/bundle.min.js', status: 'modified', additions: 1, deletions: 1, changes: 2, patch: '@@ -1 +1 @@\n-a\n+b' },
    { filename: 'assets/logo.png', status: 'added', additions: 0, deletions: 0, changes: 0 },
  ];
  github.setCompare(BASE, HEAD, files, [{ sha: HEAD, message: 'Add saved carts\n\nLets shoppers keep a cart.' }]);
  github.setCompare(BASE, HEAD2, files, [{ sha: HEAD2, message: 'Tidy carts' }]);
  const huge = { filename: 'src/huge.ts', status: 'modified', additions: 400, deletions: 0, changes: 400, patch: `@@ -1 +1,400 @@\n${Array.from({ length: 400 }, (_, i) => `+export const value${i} = ${i};`).join('\n')}` };
  github.setCompare(HEAD, BIG, [files[0]!, huge], [{ sha: BIG, message: 'Generate values' }]);
  const dir = tempDir('docs');
  const config = join(dir, 'autodevhub.yaml');
  writeFileSync(config, 'projects:\n  - key: web\n    repo: acme/web\n    channels: ["slack:C0WEB", "slack:C0DOCS"]\n    roles: { developer: ["slack:U2147483697"] }\n    docs: { path: docs/, mode: pull_request }\n');
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, GITHUB_WEBHOOK_SECRET: SECRET,
    DOCS_AI_BUDGET_CHARS: '1500', AUTODEVHUB_CONFIG: config,
  });
});
afterAll(async () => {
  await t?.stop();
  await github?.close();
  await slack?.close();
});

describe('GitHub webhooks', () => {
  it('refuses a bad or missing signature with 401 and queues nothing', async () => {
    const before = await runsCount();
    expect((await hook('push', pushPayload({ after: HEAD }), { secret: 'wrong' })).status).toBe(401);
    expect((await hook('push', pushPayload({ after: HEAD }), { signature: 'sha256=00' })).status).toBe(401);
    expect(await runsCount()).toBe(before);
  });

  it('refuses a signed push whose fields have the wrong types with a 400 in words, and queues nothing', async () => {
    const before = await runsCount();
    const bad: Array<[string, (p: Record<string, any>) => void, RegExp]> = [
      ['commits not a list', (p) => (p.commits = 'x'), /commits: /],
      ['a null commit', (p) => (p.commits = [null]), /commits\.0: /],
      ['a message that is a number', (p) => (p.head_commit = { id: 'x', message: 5 }), /head_commit\.message: /],
      ['before not a SHA', (p) => (p.before = 5), /before: /],
      ['after not a SHA', (p) => (p.after = '../../etc'), /after: must be a commit SHA/],
      ['a pusher name that is an object', (p) => (p.pusher = { name: { x: 1 } }), /pusher\.name: /],
      ['no repository', (p) => (p.repository = null), /repository: /],
    ];
    for (const [what, spoil, message] of bad) {
      const payload = pushPayload({ after: HEAD });
      spoil(payload);
      const res = await hook('push', payload);
      expect([what, res.status, res.body.error], what).toEqual([what, 400, 'invalid_body']);
      expect(res.body.message, what).toMatch(/^not a push event payload \(/);
      expect(res.body.message, what).toMatch(message);
    }
    expect(await runsCount()).toBe(before);
  });

  it('answers ping, and acknowledges events it does not handle', async () => {
    const ping = await hook('ping', pingExample);
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ ok: true, zen: pingExample.zen });
    const other = await hook('issues', { action: 'opened' });
    expect(other.status).toBe(202);
    expect(other.body).toMatchObject({ ignored: true });
  });

  it('ignores pushes to other branches and AutoDevHub’s own commits (no loops)', async () => {
    const before = await runsCount();
    expect((await hook('push', pushPayload({ after: HEAD, ref: 'refs/heads/feature' }))).body.reason).toMatch(/not the default branch/);
    expect((await hook('push', pushPayload({ after: HEAD, ref: 'refs/heads/autodevhub/docs-2222222' }))).body.reason).toMatch(/not the default branch/);
    expect((await hook('push', pushPayload({ after: HEAD, message: 'docs: changelog\n\nAutoDevHub-Run: R-1001' }))).body.reason).toBe('made by AutoDevHub');
    expect((await hook('push', pushPayload({ after: HEAD, message: 'Merge pull request #1 from acme/autodevhub/docs-2222222' }))).body.reason).toBe('made by AutoDevHub');
    expect(await runsCount()).toBe(before);
  });
});

describe('docs workflow', () => {
  it('turns a push to the default branch into a documentation pull request, announced in every linked channel', async () => {
    const sent = Date.now();
    const first = await hook('push', pushPayload({ after: HEAD }), { deliveryId: 'delivery-main-1' });
    expect(first.status).toBe(202);
    const ref = first.body.queued as string;
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 20_000, 'docs run');
    expect(run.status).toBe('succeeded');

    // One PR from autodevhub/docs-<short sha> into main, its body carrying the trailer.
    expect(github.pulls).toHaveLength(1);
    expect(github.pulls[0]).toMatchObject({ head: 'autodevhub/docs-2222222', base: 'main', title: 'Docs: Add saved carts' });
    const commit = github.commitsMade.at(-1)!;
    expect(commit.branch).toBe('autodevhub/docs-2222222');
    expect(commit.path).toBe('docs/CHANGELOG.md');
    expect(commit.message).toContain(`AutoDevHub-Run: ${ref}`);
    // A factual entry on top of the existing changelog: files, API changes, what was skipped.
    const changelog = commit.content;
    expect(changelog.startsWith('# Changelog\n\n## ')).toBe(true);
    expect(changelog).toContain('## 2026-11-01: earlier');
    expect(changelog).toContain('- Add saved carts');
    expect(changelog).toContain('- Added: `LoadOptions` (interface, `src/cart.ts`), `saveCart` (function, `src/cart.ts`)');
    expect(changelog).toContain('- Changed: `loadCart` (function, `src/cart.ts`)');
    expect(changelog).toContain('- Removed: `oldCart` (function, `src/cart.ts`)');
    expect(changelog).toContain('`docs/guide.md` (documentation itself)');
    expect(changelog).toContain('`package-lock.json` (lockfile)');
    expect(changelog).toContain('`dist/bundle.min.js` (generated or vendored)');
    expect(changelog).toContain('`assets/logo.png` (binary)');
    expect(changelog).toContain('offline generator (no AI model)');

    // Stored, with its version info.
    const rows: Array<Record<string, any>> = await t.app.context().em.getConnection().execute(`select * from documentation where run_id = ?`, [run.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.doc_type).toBe('changelog');
    expect(rows[0]!.file_path).toBe('docs/CHANGELOG.md');
    const version = typeof rows[0]!.version_info === 'string' ? JSON.parse(rows[0]!.version_info) : rows[0]!.version_info;
    expect(version).toMatchObject({ base: BASE, head: HEAD, branch: 'autodevhub/docs-2222222', prUrl: 'https://github.com/acme/web/pull/1' });

    // The PR link in each linked channel.
    const notices = await waitFor(() => {
      const posts = slack.callsOf('chat.postMessage').filter((c) => String(c.args.text).includes('https://github.com/acme/web/pull/1'));
      return posts.length >= 2 && posts;
    }, 10_000, 'notices');
    expect(notices.map((c) => c.args.channel).sort()).toEqual(['C0DOCS', 'C0WEB']);
    const measured = await waitFor(async () => (await getRun(t.app.context().em, ref)).result?.pushToLinkMs as number | undefined, 5000, 'measurement');
    expect(measured).toBeLessThan(Date.now() - sent + 1);
    console.log(`docs: push received → PR link posted in ${measured} ms`);

    // Redelivery, and a second push of the same head: no second run or pull request.
    const again = await hook('push', pushPayload({ after: HEAD }), { deliveryId: 'delivery-main-1' });
    expect(again.body).toMatchObject({ queued: ref, duplicate: true });
    const samehead = await hook('push', pushPayload({ after: HEAD }), { deliveryId: 'delivery-main-2' });
    expect(samehead.body).toMatchObject({ queued: ref, duplicate: true });
    expect(github.pulls).toHaveLength(1);
  });

  it('updates the open pull request of the same branch instead of opening another', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ text: `docs acme/web ${BASE}...${HEAD}`, channel_id: 'C0WEB', trigger_id: 'docs-cmd-1' }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 20_000, 'docs command run');
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    expect(run.result).toMatchObject({ prCreated: false, pullRequestUrl: 'https://github.com/acme/web/pull/1' });
    expect(github.pulls).toHaveLength(1);
    // The branch was reset to the head first: the entry is there once, not stacked.
    const content = github.contents.get('acme/web:autodevhub/docs-2222222:docs/CHANGELOG.md')!.content;
    expect(content.match(/^## \d{4}-\d{2}-\d{2}: 1111111\.\.\.2222222/gm)).toHaveLength(1);
    // From chat, the link goes to the run's own thread.
    await waitFor(() => slack.callsOf('chat.postMessage').find((c) => c.args.channel === 'C0WEB' && c.args.thread_ts && String(c.args.text).includes(ref)), 10_000, 'thread link');
  });

  it('says what was left out when the diff is larger than the AI budget', async () => {
    github.addRepo('acme/web', { main: BIG });
    const res = await hook('push', pushPayload({ before: HEAD, after: BIG, message: 'Generate values' }));
    const ref = res.body.queued as string;
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 20_000, 'big docs run');
    expect(run.status).toBe('succeeded');
    const pr = github.pulls.find((p) => p.head === 'autodevhub/docs-4444444')!;
    expect(pr.body).toContain('**Left out:** the diff is larger than the 1,500-character budget');
    expect(pr.body).toContain('- `src/huge.ts`');
    const events = (await (await fetch(`${t.url}/api/v1/runs/${ref}`, { headers: { cookie: await t.signIn() } })).json()) as { events: Array<{ stage: string; message: string }> };
    expect(events.events.find((e) => e.stage === 'select')!.message).toMatch(/1 left out: the diff is larger than the budget/);
  });

  it('honours GitHub rate limiting on the way', async () => {
    github.addRepo('acme/web', { main: HEAD2 });
    github.setParent(HEAD2, BASE);
    github.rateLimitNext(/\/compare\//, '429');
    const before = github.limited.length;
    const res = await hook('push', pushPayload({ after: HEAD2, message: 'Tidy carts' }));
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, res.body.queued as string);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 25_000, 'rate-limited docs run');
    expect(run.status).toBe('succeeded');
    expect(github.limited.length - before).toBe(1);
  });
});
