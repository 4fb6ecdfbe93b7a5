import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';
import { hasRedisServer, startPrivateRedis } from '../helpers/private-redis.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeBotFramework, teamsMessage } from '../fakes/botframework.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { findRunByRef } from '../../src/core/runs/queries.js';

/**
 * Outages, with real parts: a Redis server of this file's own that is killed and started again
 * empty, and the machine's Postgres behind a TCP proxy whose connections are cut. Whatever is
 * down, every platform gets words within its deadline, and acknowledged runs finish once the
 * part is back, without a restart.
 */

const APP_ID = '990000000000000001';
const BOT = 'discord-bot-token';
const keys = discordKeys();
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let bf: Awaited<ReturnType<typeof startFakeBotFramework>>;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let t: TestApp;
let cookie: string;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function slash(text: string) {
  const res = await postToSlack(t.url, slashCommandBody({ text, trigger_id: `trig-${Math.random()}` }));
  return { status: res.status, body: (await res.json()) as { text: string; response_type: string } };
}

async function api(text: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ text }) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function teams(text: string) {
  const before = bf.calls.length;
  const res = await fetch(`${t.url}/api/messages`, { method: 'POST', headers: await bf.headers(), body: JSON.stringify(teamsMessage(bf.url, text)) });
  const reply = await waitFor(() => bf.calls.slice(before).find((c) => c.method === 'POST' && typeof c.body.text === 'string'), 5000, 'the Teams reply');
  return { status: res.status, text: String(reply.body.text) };
}

const refOf = (text: string) => /R-\d+/.exec(text)![0];

beforeAll(async () => {
  if (!hasRedisServer) return;
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: BOT });
  bf = await startFakeBotFramework();
  redis = await startPrivateRedis();
  db = await createTestDatabase();
  const target = new URL(db.url);
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  target.host = `127.0.0.1:${proxy.port}`;
  t = await startTestApp({
    DATABASE_URL: target.toString(),
    REDIS_URL: redis.url,
    SWEEP_INTERVAL_SECONDS: '1',
    SLACK_SIGNING_SECRET,
    SLACK_BOT_TOKEN,
    SLACK_API_URL: slack.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex,
    DISCORD_APPLICATION_ID: APP_ID,
    DISCORD_BOT_TOKEN: BOT,
    DISCORD_API_URL: discord.apiUrl,
    ...bf.env,
  });
  cookie = await t.signIn();
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await proxy?.close();
  await db?.drop();
  await redis?.stop();
  await Promise.all([slack?.close(), discord?.close(), bf?.close()]);
});

describe.skipIf(!hasRedisServer)('while Redis is down', () => {
  const refs: string[] = [];

  it('readiness says so within a second', async () => {
    await redis.kill();
    await waitFor(async () => (await fetch(`${t.url}/readyz`)).status === 503, 5000, 'readyz to notice');
    const { value: res, ms } = await timed(() => fetch(`${t.url}/readyz`));
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, status: 'down', checks: { redis: { status: 'down' }, database: { status: 'up' } } });
    expect(ms).toBeLessThan(1000);
  });

  it('metrics still answer within a second, saying the queue reading failed', async () => {
    const { value: res, ms } = await timed(() => fetch(`${t.url}/metrics`));
    expect(res.status).toBe(200);
    expect(ms).toBeLessThan(1000);
    const text = await res.text();
    expect(text).toMatch(/^autodevhub_collector_up\{collector="queues"\} 0$/m);
    expect(text).toMatch(/^autodevhub_collector_up\{collector="approvals"\} 1$/m);
    expect(text).not.toMatch(/^autodevhub_queue_jobs\{/m);
  });

  it('every platform is told, in time, that the run is saved and starts when the queue is back', async () => {
    const s = await timed(() => slash('story As an editor I want to pin a draft so that I find it again'));
    expect(s.ms).toBeLessThan(2500);
    expect(s.value.status).toBe(200);
    expect(s.value.body.text).toMatch(/R-\d+ is saved .* the job queue is not answering: it will start by itself when the queue is back/);
    refs.push(refOf(s.value.body.text));

    const d = await timed(() => postInteraction(t.url, keys, commandInteraction(APP_ID, 'story', { description: 'As a reader I want to switch to dark mode so that I read at night' }, '111')));
    expect(d.ms).toBeLessThan(2500);
    // Not a deferred "thinking…" that would never be edited: words, now.
    expect(d.value.body.type).toBe(4);
    expect(d.value.body.data.content).toMatch(/is saved .* start by itself when the queue is back/);
    refs.push(refOf(d.value.body.data.content));

    const key = { 'idempotency-key': `outage-${Math.random()}` };
    const a = await timed(() => api('story As an admin I want to export the audit log so that I answer auditors', key));
    expect(a.ms).toBeLessThan(2500);
    expect(a.value.status).toBe(202);
    expect(a.value.body).toMatchObject({ queued: false, run: { status: 'queued' } });
    refs.push(a.value.body.run.ref);
    // A retry while the queue is still down is told the same, not "Queued".
    const retry = await api('story As an admin I want to export the audit log so that I answer auditors', key);
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ duplicate: true, queued: false, run: { ref: a.value.body.run.ref } });
    expect(retry.body.text).toMatch(/is saved .* start by itself when the queue is back/);

    const m = await timed(() => teams('story As a lead I want to receive a weekly digest so that I see progress'));
    expect(m.value.status).toBe(200);
    expect(m.value.text).toMatch(/is saved .* start by itself when the queue is back/);
    refs.push(refOf(m.value.text));
  });

  it('the saved runs finish once Redis is back, empty, with no restart', async () => {
    await redis.start();
    await waitFor(
      async () => {
        const runs = await Promise.all(refs.map((r) => findRunByRef(t.app.context().em, r)));
        return runs.every((r) => r?.status === 'succeeded');
      },
      30_000,
      'every saved run to finish',
    );
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  }, 40_000);

  it('runs whose jobs Redis lost while the service kept running are queued again', async () => {
    // Jobs waiting in the queue when Redis restarts empty: the workers hold off so they wait.
    await Promise.all(t.app.workers.map((w) => w.pause(true)));
    const queued: string[] = [];
    for (let i = 0; i < 10; i++) queued.push((await api(`story As a shopper I want wish list ${i} so that I buy later`)).body.run.ref as string);
    await redis.kill();
    await redis.start();
    // Most of them were waiting (a paused worker may still have taken one): their jobs are gone.
    const open = (await Promise.all(queued.map((r) => findRunByRef(t.app.context().em, r)))).filter((r) => r?.status === 'queued');
    expect(open.length).toBeGreaterThanOrEqual(8);
    await waitFor(() => t.app.queues.story.getWaitingCount().catch(() => -1).then((n) => n === 0), 10_000, 'Redis to come back empty');
    t.app.workers.forEach((w) => w.resume());
    await waitFor(
      async () => (await Promise.all(queued.map((r) => findRunByRef(t.app.context().em, r)))).every((r) => r?.status === 'succeeded'),
      30_000,
      'the lost runs to be queued again and finish',
    );
  }, 60_000);
});

describe.skipIf(!hasRedisServer)('while Postgres is unreachable', () => {
  it('readiness says so within a second', async () => {
    await proxy.cut();
    const { value: res, ms } = await timed(() => fetch(`${t.url}/readyz`));
    expect(ms).toBeLessThan(1000);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ ok: false, status: 'down', checks: { database: { status: 'down' } } });
  });

  it('every platform is told, in time, that nothing was queued and to try again', async () => {
    const s = await timed(() => slash('story As a tester I want to flag flaky tests so that I trust CI'));
    expect(s.ms).toBeLessThan(2900);
    expect(s.value.body.response_type).toBe('ephemeral');
    expect(s.value.body.text).toMatch(/Nothing was queued: the database is not answering\. Please try again/);

    const d = await timed(() => postInteraction(t.url, keys, commandInteraction(APP_ID, 'story', { description: 'As a dev I want to cache builds' }, '111')));
    expect(d.ms).toBeLessThan(2900);
    expect(d.value.body.data).toMatchObject({ flags: 64 });
    expect(d.value.body.data.content).toMatch(/Nothing was queued: the database is not answering/);

    const a = await api('story As an admin I want to export the audit log');
    expect(a.status).toBe(503);
    expect(a.body.message).toMatch(/Nothing was queued: the database is not answering/);

    const m = await teams('story As a lead I want to receive a weekly digest');
    expect(m.text).toMatch(/Nothing was queued: the database is not answering/);
  }, 30_000);

  it('works again once Postgres is reachable', async () => {
    await proxy.restore();
    await waitFor(async () => (await fetch(`${t.url}/readyz`)).status === 200, 10_000, 'readyz to recover');
    const s = await slash('story As a tester I want to flag flaky tests so that I trust CI');
    expect(s.body.text).toMatch(/^Queued R-\d+/);
  }, 20_000);
});
