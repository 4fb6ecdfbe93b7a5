import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { connectFeed, startTestApp, TEST_SECRET, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import type { RunEventMessage } from '../../src/core/runs/model.js';

const SITE = 'https://status.acme.test';
let t: TestApp;
let cookie: string;

async function createToken(project: string, origins: string[] = [SITE]) {
  const res = await fetch(`${t.url}/api/v1/widget-tokens`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ project, origins }),
  });
  return { status: res.status, body: (await res.json()) as { token: string; id: string; snippet: string; message?: string } };
}

async function story(project: string, text = 'story As a user I want to export invoices so that accounting is easy') {
  const res = await fetch(`${t.url}/api/v1/commands`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ text, project }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { run: { id: number; ref: string } }).run;
}

beforeAll(async () => {
  t = await startTestApp({ AUTODEVHUB_CONFIG: writeProjectsConfig() });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
});

describe('widget tokens', () => {
  it('serves /widget.js to any page, with the Socket.IO client kept off the host page', async () => {
    const res = await fetch(`${t.url}/widget.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    const js = await res.text();
    expect(js).toContain('attachShadow');
    expect(js).toContain('window.__adhIo = window.io; window.io = __hostIo;');
    expect(js).not.toContain('__ADH_CSS__');
  });

  it('are made by an admin for a known project and given origins, with an embed snippet', async () => {
    const ok = await createToken('web');
    expect(ok.status).toBe(201);
    expect(ok.body.snippet).toContain(`data-project="web" data-token="${ok.body.token}"`);
    expect((await createToken('nope')).status).toBe(404);
    expect((await createToken('web', [])).status).toBe(400);
    expect((await createToken('web', ['https://x.test/path'])).status).toBe(400);
    const anonymous = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"project":"web","origins":["https://a.test"]}' });
    expect(anonymous.status).toBe(401);
  });

  it('see their own project live, and never another project', async () => {
    const { body } = await createToken('web');
    const feed = await connectFeed(t.url, undefined, { token: body.token, origin: SITE });
    expect((await feed.socket.emitWithAck('subscribe', { project: 'web' })).ok).toBe(true);
    // Asking for another project, everything, or another project's run is refused.
    expect(await feed.socket.emitWithAck('subscribe', { project: 'api' })).toMatchObject({ ok: false });
    expect(await feed.socket.emitWithAck('subscribe', { project: '*' })).toMatchObject({ ok: false });
    const apiRun = await story('api');
    expect(await feed.socket.emitWithAck('subscribe', { run: apiRun.ref })).toMatchObject({ ok: false, error: 'no such run' });

    const webRun = await story('web');
    await waitFor(() => feed.events.some((e) => e.ref === webRun.ref && e.status === 'succeeded'), 15_000, 'web run to finish');
    await waitFor(async () => {
      const r = (await (await fetch(`${t.url}/api/v1/runs/${apiRun.ref}`, { headers: { cookie } })).json()) as { run: { status: string } };
      return r.run.status === 'succeeded';
    }, 15_000, 'api run to finish');
    expect(feed.events.every((e: RunEventMessage) => e.projectKey === 'web')).toBe(true);
    expect(feed.events.find((e) => e.ref === webRun.ref && e.seq === 1)?.data).toMatchObject({ requestedBy: 'web:admin' });
    feed.socket.close();
  });

  it('are refused when invalid, expired, from another origin, or revoked; revoking disconnects live widgets', async () => {
    const { body } = await createToken('web');
    await expect(connectFeed(t.url, undefined, { token: 'not-a-token', origin: SITE })).rejects.toThrow(/unauthorized: the widget token is not valid/);
    await expect(connectFeed(t.url, undefined, { token: body.token, origin: 'https://evil.test' })).rejects.toThrow(/forbidden: this token is not valid on https:\/\/evil.test/);
    const expired = await new SignJWT({ prj: 'web', ori: [SITE] })
      .setProtectedHeader({ alg: 'HS256' }).setJti(body.id).setAudience('autodevhub:widget').setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(TEST_SECRET));
    await expect(connectFeed(t.url, undefined, { token: expired, origin: SITE })).rejects.toThrow(/expired/);
    const forged = await new SignJWT({ prj: 'api', ori: [SITE] })
      .setProtectedHeader({ alg: 'HS256' }).setJti(body.id).setAudience('autodevhub:widget').setExpirationTime('1h')
      .sign(new TextEncoder().encode('some-other-secret-of-32-characters!!'));
    await expect(connectFeed(t.url, undefined, { token: forged, origin: SITE })).rejects.toThrow(/not valid/);

    const live = await connectFeed(t.url, undefined, { token: body.token, origin: SITE });
    const revokedNotice = new Promise((resolve) => live.socket.once('revoked', resolve));
    const disconnected = new Promise((resolve) => live.socket.once('disconnect', resolve));
    const del = await fetch(`${t.url}/api/v1/widget-tokens/${body.id}`, { method: 'DELETE', headers: { cookie } });
    expect(del.status).toBe(204);
    await Promise.all([revokedNotice, disconnected]);
    await expect(connectFeed(t.url, undefined, { token: body.token, origin: SITE })).rejects.toThrow(/revoked/);
    const list = (await (await fetch(`${t.url}/api/v1/widget-tokens?project=web`, { headers: { cookie } })).json()) as { tokens: Array<{ id: string; revokedAt: string | null }> };
    expect(list.tokens.find((x) => x.id === body.id)!.revokedAt).not.toBeNull();
  });

  it('a console session is not accepted from another origin', async () => {
    await expect(connectFeed(t.url, cookie, { origin: 'https://evil.test' })).rejects.toThrow(/forbidden: console sessions/);
    const own = await connectFeed(t.url, cookie, { origin: new URL(t.url).origin });
    own.socket.close();
  });
});

describe('several web processes and a worker', () => {
  it('a client on the second web process sees a run started through the first', async () => {
    const worker = await startTestApp({ AUTODEVHUB_ROLE: 'worker' }, {}, t);
    const web1 = await startTestApp({ AUTODEVHUB_ROLE: 'web' }, {}, t);
    const web2 = await startTestApp({ AUTODEVHUB_ROLE: 'web' }, {}, t);
    try {
      // A worker serves only its health routes: no console, no sockets.
      expect(worker.app.signInUrl).toBeUndefined();
      expect((await fetch(`${worker.app.url}/`)).status).toBe(404);
      expect(web1.app.workers).toHaveLength(0);
      const { body } = await createToken('web');
      const feed = await connectFeed(web2.url, undefined, { token: body.token, origin: SITE });
      await feed.socket.emitWithAck('subscribe', { project: 'web' });
      const c1 = await web1.signIn();
      const res = await fetch(`${web1.url}/api/v1/commands`, {
        method: 'POST',
        headers: { cookie: c1, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'story As an operator I want to pause the queue so that I can drain it', project: 'web' }),
      });
      const { run } = (await res.json()) as { run: { ref: string } };
      const events = await waitFor(() => {
        const e = feed.events.filter((x) => x.ref === run.ref);
        return e.at(-1)?.status === 'succeeded' && e;
      }, 20_000, 'events on the second web process');
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      feed.socket.close();
    } finally {
      await web2.stop();
      await web1.stop();
      await worker.stop();
    }
  });
});
