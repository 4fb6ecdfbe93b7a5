import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRun, pressSignIn, startTestApp, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { createSignInToken } from '../../src/core/access/sessions.js';

/**
 * The operator's routes on the web server: the audit log (search, export, verify) and the
 * queue dashboard (bull-board), admins only.
 */

let t: TestApp;
let admin: string;
let viewer: string;
const refs: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ AUTODEVHUB_CONFIG: writeProjectsConfig() });
  admin = await t.signIn();
  // Someone signed in who is not an admin: a one-time link of their own.
  const link = await createSignInToken(t.app.context().em, 'web:viewer');
  const res = await pressSignIn(`${t.url}/auth/signin?token=${link}`);
  viewer = res.headers.get('set-cookie')!.split(';')[0]!;
  for (const text of ['story As a shopper I want to save my cart so that I can buy later', 'story As an editor I want to pin a draft so that I find it again']) {
    refs.push((await consoleRun(t, admin, text, 25_000, 'web')).run.ref);
  }
  await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie: admin, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'api', origins: ['https://status.example.com'] }) });
}, 60_000);
afterAll(async () => {
  await t?.stop();
});

const get = (path: string, cookie?: string) => fetch(`${t.url}${path}`, { headers: cookie ? { cookie } : {} });

describe('audit log routes', () => {
  it('are for admins: 401 without a session, 403 for a signed-in person who is not an admin', async () => {
    for (const path of ['/api/v1/audit', '/api/v1/audit/export', '/api/v1/audit/verify']) {
      expect((await get(path)).status, path).toBe(401);
      const res = await get(path, viewer);
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'forbidden' });
    }
  });

  it('search by who, what, project and time, newest first, a page at a time', async () => {
    const all = (await (await get('/api/v1/audit', admin)).json()) as { entries: Array<Record<string, any>>; next: number | null };
    // Sign-ins and the refusals of the test above are recorded too; the decisions made here are these.
    const decisions = all.entries.filter((e) => !/^(access|session)\./.test(e.action));
    expect(decisions.map((e) => e.action)).toEqual(['widget_token.created', 'story.generated', 'story.generated']);
    expect(decisions[0]).toMatchObject({ actor: 'web:admin', project: 'api', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(all.entries.map((e) => e.seq)).toEqual([...all.entries.map((e) => e.seq)].sort((a, b) => b - a));
    const stories = (await (await get('/api/v1/audit?action=story.*&project=web&actor=web:admin', admin)).json()) as typeof all;
    expect(stories.entries.map((e) => e.data.run)).toEqual([...refs].reverse());
    const page = (await (await get('/api/v1/audit?limit=2', admin)).json()) as typeof all;
    expect(page.entries).toHaveLength(2);
    const rest = (await (await get(`/api/v1/audit?limit=500&before=${page.next}`, admin)).json()) as typeof all;
    expect([...page.entries, ...rest.entries].map((e) => e.seq)).toEqual(all.entries.map((e) => e.seq));
    const future = (await (await get(`/api/v1/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, admin)).json()) as typeof all;
    expect(future.entries).toEqual([]);
    const past = (await (await get(`/api/v1/audit?until=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}&project=api`, admin)).json()) as typeof all;
    expect(past.entries.map((e) => e.action)).toEqual(['widget_token.created']);
  });

  it('refuses bad filters with a 400 that says what is wrong', async () => {
    for (const [q, field] of [['since=yesterday', 'since'], ['action=drop%20table', 'action'], ['limit=100000', 'limit'], ['project=%3Cx%3E', 'project']]) {
      const res = await get(`/api/v1/audit?${q}`, admin);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { message: string }).message, q).toMatch(new RegExp(`^${field}:`));
    }
  });

  it('exports CSV and JSON, oldest first, with the chain columns', async () => {
    const csv = await get('/api/v1/audit/export?format=csv&action=story.*', admin);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="autodevhub-audit-.+\.csv"$/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('seq,id,at,actor,action,target,source,project,data,prev_hash,hash');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^\d+,\d+,[^,]+,web:admin,story\.generated,story:\d+,web,web,"\{""run"":""R-\d+""/);
    const json = await get('/api/v1/audit/export?format=json', admin);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const rows = (await json.json()) as Array<Record<string, any>>;
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows[1]!.prevHash).toBe(rows[0]!.hash);
    expect((await get('/api/v1/audit/export?format=xml', admin)).status).toBe(400);
  });

  it('verifies the chain', async () => {
    const result = (await (await get('/api/v1/audit/verify', admin)).json()) as { ok: boolean; rows: number; head: { seq: number } };
    expect(result.ok).toBe(true);
    expect(result.rows).toBeGreaterThanOrEqual(3);
    expect(result.head.seq).toBe(result.rows);
  });
});

describe('queue dashboard (bull-board) at /admin/queues', () => {
  it('is for admins only', async () => {
    expect((await get('/admin/queues')).status).toBe(401);
    expect((await get('/admin/queues', viewer)).status).toBe(403);
    expect((await get('/admin/queues/api/queues', viewer)).status).toBe(403);
  });

  it('serves the board and all its assets from this server, nothing from elsewhere', async () => {
    const res = await get('/admin/queues', admin);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const html = await res.text();
    expect(html).toContain('<base href="/admin/queues/"');
    expect(html).not.toMatch(/https?:\/\//);
    const assets = [...html.matchAll(/(?:href|src)="(static\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(3);
    for (const asset of assets) {
      const a = await get(`/admin/queues/${asset}`, admin);
      expect(a.status, asset).toBe(200);
      expect((await a.text()).length, asset).toBeGreaterThan(0);
    }
  });

  it('refuses changes from another origin with the admin’s cookie (cross-site request forgery)', async () => {
    const from = (origin: string, method: string, path: string, body?: string) =>
      fetch(`${t.url}/admin/queues/api/queues/${path}`, { method, headers: { cookie: admin, origin, 'sec-fetch-site': 'cross-site', ...(body && { 'content-type': 'text/plain' }) }, body });
    for (const [method, path, body] of [['PUT', 'story/pause'], ['POST', 'story/add', '{"name":"csrf","data":{}}']] as const) {
      const res = await from('https://evil.example', method, path, body);
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    const counts = (await (await get('/admin/queues/api/queues?activeQueue=story', admin)).json()) as { queues: Array<{ name: string; isPaused: boolean; counts: Record<string, number> }> };
    expect(counts.queues.find((q) => q.name === 'story')!.isPaused).toBe(false);
    // From the board itself (its own origin) a change goes through.
    const own = await from(new URL(t.url).origin, 'PUT', 'story/pause');
    expect(own.status).toBe(200);
    expect((await from(new URL(t.url).origin, 'PUT', 'story/resume')).status).toBe(200);
  });

  it('lists the queues with their jobs', async () => {
    const res = await get('/admin/queues/api/queues?activeQueue=story&status=completed&page=1', admin);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; data: Record<string, unknown> }> }> };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['chat', 'deploy', 'docs', 'story']);
    const story = body.queues.find((q) => q.name === 'story')!;
    expect(story.counts.completed).toBe(2);
    expect(story.jobs.map((j) => j.data.run).sort()).toEqual([...refs].sort());
  });
});
