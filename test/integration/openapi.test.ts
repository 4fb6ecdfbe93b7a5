import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { loadSpec, responseChecker } from '../helpers/openapi.js';
import { createApiToken } from '../../src/core/access/api-tokens.js';

/**
 * The API as documented: the OpenAPI 3.1 document validates, every operation in it is exercised,
 * and every answer (errors included) matches its published schema.
 */

let t: TestApp;
let cookie: string;
let admin: string;
let checker: ReturnType<typeof responseChecker>;

async function call(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${opts.token ?? admin}`, ...(opts.body !== undefined && { 'content-type': 'application/json' }), ...opts.headers },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  checker.check(method, path, res.status, body, res.headers.get('content-type'));
  return { status: res.status, body: body as Record<string, any>, headers: res.headers };
}

beforeAll(async () => {
  t = await startTestApp({ AUTODEVHUB_CONFIG: writeProjectsConfig() });
  cookie = await t.signIn();
  admin = (await createApiToken({ ctx: t.app.context(), actor: { id: 'web:admin', platform: 'web', channel: null } }, { name: 'openapi', scopes: ['read', 'run', 'deploy', 'approve', 'admin'] })).token;
  checker = responseChecker(await loadSpec(t.url));
});
afterAll(async () => {
  await t?.stop();
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1, served without signing in, and describes bearer tokens and the session', async () => {
    const res = await fetch(`${t.url}/api/v1/openapi.json`);
    const doc = (await res.json()) as Record<string, any>;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components.securitySchemes)).toEqual(['bearer', 'session']);
    expect(checker.operations().length).toBeGreaterThanOrEqual(30);
    // Every pattern is a plain ECMA regular expression a generated client can use: a project key matches.
    const patterns = [...JSON.stringify(doc).matchAll(/"pattern":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(patterns.length).toBeGreaterThan(3);
    for (const p of patterns) expect(() => new RegExp(p, 'u'), p).not.toThrow();
    const project = patterns.find((p) => p.includes('{0,63}'))!;
    expect(new RegExp(project).test('web')).toBe(true);
  });

  it('has a reference UI at /api/docs that works offline (every asset served from here)', async () => {
    const page = await fetch(`${t.url}/api/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    for (const src of [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)) {
      const asset = await fetch(`${t.url}${src}`);
      expect(asset.status, src).toBe(200);
      expect((await asset.text()).length, src).toBeGreaterThan(20);
    }
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});

describe('every operation answers as documented', () => {
  it('runs, commands, approvals, stories', async () => {
    expect((await call('GET', '/api/v1/runs', { token: 'adh_nope' })).status).toBe(401);
    expect((await call('POST', '/api/v1/commands', { body: { text: 'help' } })).status).toBe(200);
    expect((await call('POST', '/api/v1/commands', { body: { text: 'launch rockets' } })).body).toMatchObject({ error: 'usage', text: expect.stringMatching(/Unknown command/) });
    expect((await call('POST', '/api/v1/commands', { body: { nope: 1 } })).status).toBe(400);
    const key = { 'idempotency-key': `k-${Math.random()}` };
    const queued = await call('POST', '/api/v1/commands', { body: { text: 'story As a buyer I want invoices as PDF so that I file them', project: 'web' }, headers: key });
    expect(queued.status).toBe(202);
    expect((await call('POST', '/api/v1/commands', { body: { text: 'story something else' }, headers: key })).status).toBe(422);
    for (let i = 0; i < 3; i++) await call('POST', '/api/v1/commands', { body: { text: `story As a user I want report ${i} so that I see trends`, project: 'api' } });

    const first = await call('GET', '/api/v1/runs?limit=2');
    expect(first.body.runs).toHaveLength(2);
    const second = await call('GET', `/api/v1/runs?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.runs[0].id).toBeLessThan(first.body.runs[1].id);
    expect((await call('GET', '/api/v1/runs?project=api&kind=story&status=queued&requestedBy=web:admin')).status).toBe(200);
    expect((await call('GET', '/api/v1/runs?cursor=abc')).status).toBe(400);

    const ref = queued.body.run.ref as string;
    const detail = await waitFor(async () => {
      const d = await call('GET', `/api/v1/runs/${ref}`);
      return d.body.run.status === 'succeeded' && d;
    }, 20_000, 'the story');
    expect((await call('GET', `/api/v1/runs/${ref}/events?after=2`)).body.events[0].seq).toBe(3);
    expect((await call('GET', '/api/v1/runs/R-999999')).status).toBe(404);
    expect((await call('POST', `/api/v1/runs/${ref}/cancel`)).status).toBe(200);
    expect((await call('POST', `/api/v1/runs/${ref}/approve`, { body: { reason: 'fine' } })).status).toBe(400);
    expect((await call('POST', `/api/v1/runs/${ref}/reject`, { body: {} })).status).toBe(400);
    expect((await call('GET', '/api/v1/approvals')).body.runs).toEqual([]);

    const storyId = detail.body.story.id as number;
    expect((await call('GET', `/api/v1/stories/${storyId}`)).body.story.id).toBe(storyId);
    const regenerated = await call('POST', `/api/v1/stories/${storyId}/regenerate`);
    expect(regenerated.status).toBe(202);
    const v2 = await consoleRunDone(regenerated.body.run.ref);
    expect((await call('POST', `/api/v1/stories/${v2}/accept`)).body.story.status).toBe('accepted');
    expect((await call('POST', `/api/v1/stories/${v2}/accept`)).status).toBe(409);
    expect((await call('GET', '/api/v1/stories/999999')).status).toBe(404);
  }, 60_000);

  it('projects, widget tokens, API tokens', async () => {
    expect((await call('GET', '/api/v1/projects')).body.projects.map((p: { key: string }) => p.key)).toEqual(['api', 'web']);
    expect((await call('POST', '/api/v1/projects/web/channels', { body: { channel: 'slack:CNEW' } })).body.project.channels).toContain('slack:CNEW');
    expect((await call('POST', '/api/v1/projects/web/channels', { body: { channel: 'not a channel' } })).status).toBe(400);
    expect((await call('DELETE', '/api/v1/projects/web/channels/slack:CNEW')).status).toBe(204);
    expect((await call('DELETE', '/api/v1/projects/web/channels/slack:CNEW')).status).toBe(404);
    expect((await call('GET', '/api/v1/projects/web/environments')).body.environments).toEqual(expect.any(Array));
    expect((await call('GET', '/api/v1/projects/nope/environments')).status).toBe(404);

    const widget = await call('POST', '/api/v1/widget-tokens', { body: { project: 'web', origins: ['https://status.acme.test'] } });
    expect(widget.status).toBe(201);
    expect((await call('GET', '/api/v1/widget-tokens?project=web')).body.tokens.length).toBeGreaterThan(0);
    expect((await call('DELETE', `/api/v1/widget-tokens/${widget.body.id}`)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/widget-tokens/not-an-id')).status).toBe(404);

    const made = await call('POST', '/api/v1/tokens', { body: { name: 'docs', scopes: ['read'], ttlDays: 7 } });
    expect(made.status).toBe(201);
    expect((await call('POST', '/api/v1/tokens', { body: { name: 'bad', scopes: ['everything'] } })).status).toBe(400);
    expect((await call('GET', '/api/v1/tokens?all=true')).body.tokens.length).toBeGreaterThanOrEqual(2);
    expect((await call('GET', '/api/v1/tokens', { token: made.body.token })).status).toBe(403);
    expect((await call('DELETE', `/api/v1/tokens/${made.body.id}`)).status).toBe(204);
    expect((await call('DELETE', '/api/v1/tokens/999999')).status).toBe(404);
  });

  it('people, identities, sessions and roles', async () => {
    expect((await call('GET', '/api/v1/me')).body).toMatchObject({ id: 'web:admin', via: 'token', admin: true });
    const person = await call('POST', '/api/v1/people', { body: { displayName: 'Ann', identities: ['slack:UANN'] } });
    expect(person.status).toBe(201);
    const id = person.body.person.id as number;
    expect((await call('POST', '/api/v1/people', { body: { identities: ['nonsense'] } })).status).toBe(400);
    expect((await call('POST', `/api/v1/people/${id}/identities`, { body: { handle: 'discord:4455' } })).body.person.identities).toEqual(['slack:UANN', 'discord:4455']);
    // An identity of someone else is never moved silently: unlink it there first.
    const other = (await call('POST', '/api/v1/people', { body: { displayName: 'Bo', identities: ['slack:UBO'] } })).body.person.id;
    const taken = await call('POST', '/api/v1/people', { body: { displayName: 'Not Ann', identities: ['slack:UANN'] } });
    expect(taken.status).toBe(409);
    expect(taken.body.message).toContain(`slack:UANN already belongs to person ${id}`);
    expect((await call('POST', `/api/v1/people/${other}/identities`, { body: { handle: 'discord:4455' } })).status).toBe(409);
    expect((await call('GET', `/api/v1/people/${id}`)).body.person.identities).toEqual(['slack:UANN', 'discord:4455']);
    expect((await call('DELETE', `/api/v1/people/${id}/identities/discord:4455`)).body.person.identities).toEqual(['slack:UANN']);
    expect((await call('POST', `/api/v1/people/${other}/identities`, { body: { handle: 'discord:4455' } })).body.person.identities).toEqual(['slack:UBO', 'discord:4455']);
    expect((await call('GET', `/api/v1/people/${id}`)).body.person.displayName).toBe('Ann');
    expect((await call('GET', '/api/v1/people')).body.people.some((p: { id: number }) => p.id === id)).toBe(true);
    expect((await call('GET', '/api/v1/people/999999')).status).toBe(404);
    expect((await call('POST', `/api/v1/people/${id}/sign-out-everywhere`)).body).toEqual({ sessionsEnded: 0 });
    // A chat identity joins a console person, in the console: a token is refused.
    expect((await call('POST', '/api/v1/me/identities', { body: { code: 'not-a-real-code-at-all' } })).body.message).toMatch(/Open the link in the console/);
    expect((await call('POST', '/api/v1/me/identities/preview', { body: { code: 'not-a-real-code-at-all' } })).body.message).toMatch(/Open the link in the console/);

    const ann = (await createApiToken({ ctx: t.app.context(), actor: { id: 'slack:UANN', platform: 'web', channel: null } }, { name: 'ann', scopes: ['read', 'admin'] })).token;
    expect((await call('GET', '/api/v1/people', { token: ann })).status).toBe(403);
    expect((await call('POST', '/api/v1/me/sign-out-everywhere', { token: ann })).body).toEqual({ sessionsEnded: 0 });
    // A token that may only read cannot end its owner's console sessions.
    const annReads = (await createApiToken({ ctx: t.app.context(), actor: { id: 'slack:UANN', platform: 'web', channel: null } }, { name: 'ann-read', scopes: ['read'] })).token;
    const refused = await call('POST', '/api/v1/me/sign-out-everywhere', { token: annReads });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/does not have the "admin" scope/);

    expect((await call('GET', '/api/v1/roles/matrix', { token: ann })).status).toBe(200);
    const grant = await call('POST', '/api/v1/roles/grants', { body: { principal: `user:${id}`, project: 'web', role: 'developer' } });
    expect(grant.status).toBe(201);
    expect((await call('GET', '/api/v1/me', { token: ann })).body.roles).toEqual({ web: 'developer' });
    expect((await call('GET', '/api/v1/roles/grants')).body.runtime).toHaveLength(1);
    expect((await call('POST', '/api/v1/roles/grants', { body: { principal: 'slack:UANN', project: 'web', role: 'admin' } })).status).toBe(400);
    expect((await call('POST', '/api/v1/roles/grants', { body: { principal: 'slack:UANN', project: 'nope', role: 'viewer' } })).status).toBe(404);
    expect((await call('DELETE', `/api/v1/roles/grants/${grant.body.grant.id}`)).status).toBe(204);
    expect((await call('GET', '/api/v1/me', { token: ann })).body.roles).toEqual({});
  });

  it('audit log, story exports, webhook deliveries', async () => {
    const search = await call('GET', '/api/v1/audit?limit=5&action=story.*');
    expect(search.status).toBe(200);
    expect(search.body.entries.length).toBeGreaterThan(0);
    expect((await call('GET', '/api/v1/audit?since=yesterday')).status).toBe(400);
    const exported = await call('GET', '/api/v1/audit/export?format=json&action=story.*');
    expect(exported.status).toBe(200);
    expect((await call('GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: true });
    const story = await consoleRun(t, cookie, 'story As an editor I want to schedule posts so that they go out on time');
    const id = Number(story.story!.id);
    // No tracker and no GitHub here: each export says what is missing, in the documented shape.
    expect([400, 503]).toContain((await call('POST', `/api/v1/stories/${id}/issue`)).status);
    expect([400, 503]).toContain((await call('POST', `/api/v1/stories/${id}/pull-request`)).status);
    expect((await call('GET', `/api/v1/stories/${id}/exports`)).body).toEqual({ exports: [] });
    expect((await call('GET', '/api/v1/stories/999999999/exports')).status).toBe(404);
    expect((await call('GET', '/api/v1/webhook-deliveries?project=web')).body).toEqual({ deliveries: [] });
    expect((await call('POST', '/api/v1/webhook-deliveries/424242/redeliver')).status).toBe(404);
  });

  it('exercised every operation the document lists', () => {
    expect(checker.operations().filter((op) => !checker.seen.has(op))).toEqual([]);
  });
});

/** Waits for a regenerated story's run and returns its story id. */
async function consoleRunDone(ref: string): Promise<number> {
  const done = await waitFor(async () => {
    const d = await call('GET', `/api/v1/runs/${ref}`);
    return d.body.run.status === 'succeeded' && d;
  }, 20_000, 'the new version');
  void consoleRun;
  void cookie;
  return done.body.story.id as number;
}
