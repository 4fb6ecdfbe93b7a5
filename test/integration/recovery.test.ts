import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { createRedis, checkRedis, RedisPolicyError } from '../../src/jobs/redis.js';
import { getRun } from '../../src/core/runs/store.js';
import { openRunsNeedingJobs, REQUEUE_SETTLE_MS } from '../../src/core/runs/maintenance.js';
import { eventsChannel } from '../../src/realtime/publisher.js';
import { connectFeed } from '../helpers/app.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/ports.js';

describe('nothing acknowledged is lost', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a run stored but whose job was lost (Redis restarted empty) is queued again at start and finishes', async () => {
    const cookie = await t.signIn();
    // Stop the workers' side first so the job stays queued, as if the process died after the ack.
    await Promise.all(t.app.workers.map((w) => w.close()));
    const res = await fetch(`${t.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'story As a developer I want to retry failed builds so that flaky tests do not block me' }),
    });
    const { run } = (await res.json()) as { run: { id: number; ref: string } };
    // Redis loses the job (no persistence, restart): only Postgres still knows the run.
    await t.app.queues.story.obliterate({ force: true });
    expect(await t.app.queues.story.getJob(t.app.queues.ids.run(run.id))).toBeUndefined();

    await t.restart();
    const done = await waitFor(async () => {
      const r = await getRun(t.app.context().em, run.id);
      return r.status === 'succeeded' && r;
    }, 15_000, 'recovered run to finish');
    expect(done.ref).toBe(run.ref);
  });
});


describe('a sweep and a command taken in at the same moment', () => {
  let t: TestApp;
  let cookie: string;
  beforeAll(async () => {
    t = await startTestApp({ AUTODEVHUB_ROLE: 'web' });
    cookie = await t.signIn();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('a run changed a moment ago is not taken for one without a job (its job may be on its way)', async () => {
    const res = await fetch(`${t.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'story As a developer I want to pin a build so that it is kept' }),
    });
    const { run } = (await res.json()) as { run: { id: number } };
    // As a sweep sees it between intake's commit and its queue.add: stored, and no job yet.
    await t.app.queues.story.obliterate({ force: true });
    const needing = async () => (await openRunsNeedingJobs(t.app.context().em.fork(), () => undefined)).map((r) => r.run.id);
    expect(await needing()).not.toContain(run.id);
    await new Promise((r) => setTimeout(r, REQUEUE_SETTLE_MS + 200));
    expect(await needing()).toContain(run.id);
  });

  it('a live feed is gap-free when an event was stored but its publish never came (its process died between)', async () => {
    const feed = await connectFeed(t.url, cookie);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect(await feed.socket.emitWithAck('subscribe', {})).toMatchObject({ ok: true });
      const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text: 'story As a reader I want to bookmark a page so that I find it again' }) });
      const { run } = (await res.json()) as { run: { id: number; ref: string; projectKey: string | null } };
      await waitFor(() => feed.events.some((e) => e.runId === run.id && e.seq === 1), 10_000, 'the queued event');
      // Seq 2 and 3 are stored (as a worker's steps would be); only seq 3 is published.
      const sql = t.app.context().em.fork().getConnection();
      for (const seq of [2, 3]) await sql.execute(`insert into run_events (run_id, seq, stage, status, progress, message) values (?, ?, 'generate', 'running', ?, ?)`, [run.id, seq, seq * 10, `step ${seq}`]);
      const third = { runId: run.id, ref: run.ref, projectKey: run.projectKey, kind: 'story', seq: 3, stage: 'generate', status: 'running', progress: 30, message: 'step 3', at: new Date().toISOString(), data: null };
      await redis.publish(eventsChannel(t.prefix), JSON.stringify(third));
      await waitFor(() => feed.events.some((e) => e.runId === run.id && e.seq === 3), 10_000, 'the published event');
      expect(feed.events.filter((e) => e.runId === run.id).map((e) => [e.seq, e.message])).toEqual([[1, 'Queued: writing a user story'], [2, 'step 2'], [3, 'step 3']]);
    } finally {
      feed.socket.close();
      await redis.quit();
    }
  });
});

describe('Redis eviction policy', () => {
  let proc: ChildProcess | undefined;
  afterAll(() => proc?.kill());

  it('refuses to run on an evicting Redis, saying how to fix it', async () => {
    const port = await freePort();
    // A Redis of its own, so the shared one's policy is never touched.
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
    const redis = createRedis(`redis://127.0.0.1:${port}`);
    try {
      await waitFor(async () => (await redis.ping().catch(() => '')) === 'PONG', 5000, 'redis to start');
      await expect(checkRedis(redis)).rejects.toThrow(RedisPolicyError);
      await expect(checkRedis(redis)).rejects.toThrow(/maxmemory-policy is "allkeys-lru".*noeviction/);
      await redis.config('SET', 'maxmemory-policy', 'noeviction');
      await expect(checkRedis(redis)).resolves.toMatchObject({ policy: 'noeviction' });
    } finally {
      redis.disconnect();
    }
  });
});
