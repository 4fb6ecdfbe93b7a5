import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFeed, pressSignIn, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import type { RunEventMessage } from '../../src/core/runs/model.js';

let t: TestApp;
let cookie: string;

beforeAll(async () => {
  t = await startTestApp();
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
});

async function command(text: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/api/v1/commands`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ text }),
  });
  return { status: res.status, body: (await res.json()) as { text: string; error: boolean; duplicate: boolean; run: { id: number; ref: string } | null } };
}

describe('web console', () => {
  it('is private: the page asks to sign in, the API and the socket refuse without a session', async () => {
    const page = await (await fetch(`${t.url}/`)).text();
    expect(page).toContain('class="anonymous"');
    const api = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"help"}' });
    expect(api.status).toBe(401);
    await expect(connectFeed(t.url, undefined)).rejects.toThrow(/unauthorized/);
    await expect(connectFeed(t.url, 'adh_session=forged.jwt.value')).rejects.toThrow(/unauthorized/);
  });

  it('accepts a sign-in link once, and only when its button is pressed (a link preview uses nothing up)', async () => {
    const fresh = await startTestApp();
    try {
      const link = fresh.app.signInUrl!.replace(/^http:\/\/[^/]+/, fresh.url);
      for (let preview = 0; preview < 2; preview++) {
        const opened = await fetch(link, { redirect: 'manual' });
        expect(opened.status).toBe(200);
        expect(opened.headers.get('set-cookie')).toBeNull();
        const html = await opened.text();
        expect(html).toContain('<form method="post" action="/auth/signin">');
        expect(html).toContain(`value="${new URL(link).searchParams.get('token')}"`);
      }
      const pressed = await pressSignIn(link);
      expect(pressed.status).toBe(303);
      expect(pressed.headers.get('set-cookie')).toMatch(/^adh_session=/);
      expect((await pressSignIn(link)).status).toBe(401);
      expect((await fetch(link, { redirect: 'manual' })).status).toBe(401);
      // From another site, the button is refused.
      const forged = await fetch(`${fresh.url}/auth/signin`, { method: 'POST', headers: { origin: 'https://evil.example' }, body: new URLSearchParams({ token: 'x' }) });
      expect(forged.status).toBe(403);
    } finally {
      await fresh.stop();
    }
  });

  it('answers a malformed subscription in words', async () => {
    const feed = await connectFeed(t.url, cookie);
    try {
      for (const req of [{ project: '*', cursors: { abc: 'x' } }, { project: '*', cursors: [1] }, { run: { $gt: 1 } }, { project: 5 }]) {
        const reply = (await feed.socket.emitWithAck('subscribe', req)) as { ok: boolean; error?: string };
        expect([JSON.stringify(req), reply.ok]).toEqual([JSON.stringify(req), false]);
        expect(reply.error).toMatch(/^(cursors is an object of run id to the last seq seen|run is a reference like R-1042|project is a project key)/);
      }
      expect(await feed.socket.emitWithAck('subscribe', { project: '*', cursors: { '1': 3 } })).toMatchObject({ ok: true });
    } finally {
      feed.socket.disconnect();
    }
  });

  it('shows every run of commands taken in together live, each first event once', async () => {
    const feed = await connectFeed(t.url, cookie);
    await feed.socket.emitWithAck('subscribe', { project: '*' });
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => command(`story As a tester I want burst item ${i} so that it is seen`)));
    const refs = replies.map((r) => r.body.run!.ref);
    expect(new Set(refs).size).toBe(12);
    await waitFor(() => refs.every((ref) => feed.events.some((e) => e.ref === ref && e.status === 'queued')), 10_000, 'every queued event');
    for (const ref of refs) expect(feed.events.filter((e) => e.ref === ref && e.seq === 1)).toHaveLength(1);
    feed.socket.disconnect();
  });

  it('runs a story from the command box and shows it live, queued → running → succeeded', async () => {
    const page = await (await fetch(`${t.url}/`, { headers: { cookie } })).text();
    expect(page).toContain('class="signed-in"');
    const feed = await connectFeed(t.url, cookie);
    await feed.socket.emitWithAck('subscribe', { project: '*' });
    const { status, body } = await command('story As a shopper I want to save my cart so that I can buy later');
    expect(status).toBe(202);
    expect(body.text).toMatch(/^Queued R-\d+/);
    const ref = body.run!.ref;
    const events = await waitFor(() => {
      const e = feed.events.filter((x) => x.ref === ref);
      return e.at(-1)?.status === 'succeeded' && e;
    }, 15_000, 'run to succeed');
    expect(events.map((e) => e.status)).toEqual(['queued', 'running', 'running', 'running', 'succeeded']);
    expect(String(events.at(-1)!.data!.generator)).toBe('offline generator');
    feed.socket.close();
  });

  it('answers help, bad input and malformed bodies clearly', async () => {
    expect((await command('help')).body.text).toMatch(/AutoDevHub commands/);
    const unknown = await command('launch rockets');
    expect(unknown.status).toBe(400);
    expect(unknown.body.text).toMatch(/Unknown command "launch"/);
    // The console has no prefix: the usage lines up, with no stray space before each verb.
    const lines = unknown.body.text.split('\n').filter((l) => /^\s+\S/.test(l));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(line).toMatch(/^ {2}[a-z]/);
    expect(unknown.body.text).toContain('See "help <verb>" for details.');
    expect((await command('story')).body.text).toMatch(/^Usage: story /m);
    const malformed = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{"text":' });
    expect(malformed.status).toBe(400);
    const notJson = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'text/plain' }, body: 'story x' });
    expect(notJson.status).toBe(400);
  });

  it('says a finished run has nothing to cancel, instead of "cancelled"', async () => {
    const { body } = await command('story As a reader I want to bookmark pages so that I find them again');
    const ref = body.run!.ref;
    const feed = await connectFeed(t.url, cookie);
    await feed.socket.emitWithAck('subscribe', { run: ref });
    await waitFor(() => feed.events.some((e) => e.status === 'succeeded'), 15_000, 'the story');
    feed.socket.close();
    const cancel = await command(`cancel ${ref}`);
    expect([cancel.status, cancel.body.text]).toEqual([409, `${ref} had already finished (succeeded); there is nothing to cancel.`]);
  });

  it('makes one run for a repeated Idempotency-Key', async () => {
    const a = await command('story As a user I want to export invoices', { 'idempotency-key': 'same-key-1' });
    const b = await command('story As a user I want to export invoices', { 'idempotency-key': 'same-key-1' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect(b.body.duplicate).toBe(true);
    expect(b.body.run!.ref).toBe(a.body.run!.ref);
  });

  it('a reconnecting client that gives its last seq receives exactly the events it missed', async () => {
    const { body } = await command('story As an admin I want to reset user passwords so that locked-out users get back in');
    const ref = body.run!.ref;
    const runId = body.run!.id;
    const all = await waitFor(async () => {
      const r = (await (await fetch(`${t.url}/api/v1/runs/${ref}`, { headers: { cookie } })).json()) as { run: { status: string }; events: RunEventMessage[] };
      return r.run.status === 'succeeded' && r.events;
    }, 15_000, 'run to finish');
    expect(all.length).toBeGreaterThanOrEqual(5);

    // It saw up to seq 2, then lost its connection.
    const feed = await connectFeed(t.url, cookie);
    const reply = await feed.socket.emitWithAck('subscribe', { run: ref, cursors: { [runId]: 2 } });
    expect(reply.ok).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(feed.events.map((e) => e.seq)).toEqual(all.filter((e) => e.seq > 2).map((e) => e.seq));
    feed.socket.close();

    // Up to date: nothing is sent again.
    const upToDate = await connectFeed(t.url, cookie);
    await upToDate.socket.emitWithAck('subscribe', { run: ref, cursors: { [runId]: all.length } });
    await new Promise((r) => setTimeout(r, 300));
    expect(upToDate.events).toEqual([]);
    upToDate.socket.close();
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const ready = (await (await fetch(`${t.url}/readyz`)).json()) as Record<string, any>;
    expect(ready).toMatchObject({ ok: true, status: 'ready', checks: { database: { status: 'up' }, redis: { status: 'up' } } });
    expect(Object.keys(ready.checks)).toEqual(['database', 'redis']);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/autodevhub_http_request_duration_seconds_bucket/);
  });
});
