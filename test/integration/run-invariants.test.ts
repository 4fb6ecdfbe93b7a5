import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pressSignIn, startTestApp, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { findRunByRef } from '../../src/core/runs/queries.js';
import { pruneRetained } from '../../src/core/runs/maintenance.js';
import type { NewRun } from '../../src/core/runs/intake.js';

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let cookie: string;

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return t.app.db.orm.em.fork().getConnection().execute(text, params);
}

function api(path: string, init: RequestInit = {}) {
  return fetch(`${t.url}${path}`, { ...init, headers: { cookie, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, AUTODEVHUB_CONFIG: writeProjectsConfig(), SWEEP_INTERVAL_SECONDS: '0.5', CHAT_SWEEP_GRACE_SECONDS: '1' });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await slack?.close();
});

describe('one bad command fails alone', () => {
  it('of 60 commands written together, the 3 the database refuses fail and the 57 others are stored and queued', async () => {
    const story = (i: number): NewRun => ({
      kind: 'story',
      // From the API: no chat view to render, so the runs after this test do not queue behind 57 renders.
      requestedBy: `web:u${i}`,
      sourcePlatform: 'web',
      channel: null,
      input: { description: `As a user I want feature ${i} so that I benefit` },
      delivery: { platform: 'web', id: `poison-${i}-${Math.random()}` },
    });
    // A kind the workflow_runs check constraint refuses: the database, not the edge, says no.
    const poisoned = new Set([7, 29, 51]);
    const intake = t.app.context().intake;
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => intake.submit(poisoned.has(i) ? { ...story(i), kind: 'bogus' as never } : story(i))));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [i] : []));
    // Any other failure is shown with its reason.
    expect(results.flatMap((r, i) => (r.status === 'rejected' && !poisoned.has(i) ? [`${i}: ${String(r.reason?.message ?? r.reason)}`] : []))).toEqual([]);
    expect(failed).toEqual([...poisoned]);
    for (const i of poisoned) expect(String((results[i] as PromiseRejectedResult).reason.message)).toMatch(/refused this command, so nothing was queued/);
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(stored).toHaveLength(57);
    expect(stored.every((c) => c.queued && !c.duplicate)).toBe(true);
    const jobs = await Promise.all(stored.map((c) => t.app.queues.story.getJob(t.app.queues.ids.run(c.run.id))));
    expect(jobs.every(Boolean)).toBe(true);
  });

  it('refuses text with a NUL at the edge: 400 on the API, words in Slack, nothing stored', async () => {
    const before = await sql<{ n: string }>(`select count(*) as n from workflow_runs`);
    const res = await api('/api/v1/commands', { method: 'POST', body: JSON.stringify({ text: 'story a\u0000b' }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { text: string }).text).toMatch(/a NUL character/);
    const s = await postToSlack(t.url, slashCommandBody({ text: 'story a\u0000b', trigger_id: `nul-${Math.random()}` }));
    expect(((await s.json()) as { text: string }).text).toMatch(/a NUL character/);
    expect(await sql<{ n: string }>(`select count(*) as n from workflow_runs`)).toEqual(before);
  });

  it('refuses a lone surrogate (possible in JSON, not in a form) with a 400, nothing stored', async () => {
    const before = await sql<{ n: string }>(`select count(*) as n from workflow_runs`);
    const res = await api('/api/v1/commands', { method: 'POST', body: '{"text": "story broken \\ud800 text"}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { text: string }).text).toMatch(/lone surrogate/);
    expect(await sql<{ n: string }>(`select count(*) as n from workflow_runs`)).toEqual(before);
  });
});

describe('API input', () => {
  it.each([
    ['/api/v1/runs?limit=abc', 400, /limit/],
    ['/api/v1/runs?limit=100000', 400, /limit/],
    ['/api/v1/runs?project=%00', 400, /NUL/],
    ['/api/v1/runs?project=%E0%A4%A', 400, /% escape/],
    ['/api/v1/runs/abc', 404, /There is no run abc/],
    ['/api/v1/runs/R-1%00', 400, /NUL/],
    ['/api/v1/runs/R-99999999999', 404, /There is no run/],
    ['/api/v1/widget-tokens?project=%00', 400, /NUL/],
    ['/api/v1/widget-tokens?project=a%20b', 400, /project/],
  ])('GET %s answers %i with a message', async (path, status, message) => {
    const res = await api(path);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { message: string }).message).toMatch(message);
  });

  it('refuses a NUL or a lone surrogate anywhere in a body or a page address with a 400 in words, and an oversized body with a 413', async () => {
    const cases: Array<[string, string]> = [
      ['/api/v1/tokens', '{"name": "a\\u0000b", "scopes": ["read"]}'],
      ['/api/v1/roles/grants', '{"principal": "slack:U\\ud800", "project": "web", "role": "viewer"}'],
      ['/api/v1/people', '{"displayName": "x", "identities": ["slack:U\\u0000X"]}'],
      ['/api/v1/projects/web/channels', '{"channel": "slack:C\\ud800"}'],
    ];
    for (const [path, body] of cases) {
      const res = await api(path, { method: 'POST', headers: { origin: t.url }, body });
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { message: string }).message, path).toMatch(/a NUL character|a broken Unicode character/);
    }
    const page = await fetch(`${t.url}/stories?q=%00`, { headers: { cookie } });
    expect(page.status).toBe(400);
    expect(await page.text()).toMatch(/The address contains a NUL character/);
    const huge = await api('/api/v1/tokens', { method: 'POST', headers: { origin: t.url }, body: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), scopes: ['read'] }) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { message: string }).message).toMatch(/at most 1024 KiB/);
  });

  it('an Idempotency-Key reused for a different request is refused (422); the same request is a retry', async () => {
    const key = `key-${Math.random()}`;
    const send = (text: string) => api('/api/v1/commands', { method: 'POST', headers: { 'idempotency-key': key }, body: JSON.stringify({ text }) });
    const first = await send('story As a buyer I want invoices as PDF so that I file them');
    expect(first.status).toBe(202);
    const retry = await send('story As a buyer I want invoices as PDF so that I file them');
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { duplicate: boolean }).duplicate).toBe(true);
    const other = await send('story As a buyer I want something else entirely');
    expect(other.status).toBe(422);
    expect(((await other.json()) as { text: string }).text).toMatch(/Idempotency-Key was used for a different request/);
    // The same person's API token with the same key and body is the same request: a retry.
    const { createApiToken } = await import('../../src/core/access/api-tokens.js');
    const { token } = await createApiToken({ ctx: t.app.context(), actor: { id: 'web:admin', platform: 'web', channel: null } }, { name: 'retry', scopes: ['run'] });
    const byToken = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ text: 'story As a buyer I want invoices as PDF so that I file them' }) });
    expect(byToken.status).toBe(200);
    expect(((await byToken.json()) as { duplicate: boolean; run: { ref: string } }).run.ref).toBe(((await first.clone().json()) as { run: { ref: string } }).run.ref);
    // Someone else using the same key makes a request of their own, and learns nothing of the first.
    const { createSignInToken } = await import('../../src/core/access/sessions.js');
    const link = await pressSignIn(`${t.url}/auth/signin?token=${await createSignInToken(t.app.context().em, 'web:someone-else')}`);
    const theirCookie = link.headers.get('set-cookie')!.split(';')[0]!;
    const theirs = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie: theirCookie, origin: t.url, 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ text: 'story As a buyer I want something else entirely' }) });
    expect(theirs.status).toBe(202);
    const theirRun = ((await theirs.json()) as { run: { ref: string } }).run.ref;
    expect(theirRun).not.toBe(((await first.clone().json()) as { run: { ref: string } }).run.ref);
  });
});

describe('chat converges', () => {
  it('a run whose chat view fell behind its events (a render lost after the commit) is rendered again by the sweep', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ text: 'story As a user I want saved searches so that I rerun them', trigger_id: `conv-${Math.random()}` }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    await waitFor(async () => {
      const r = await findRunByRef(t.app.context().em, ref);
      return r?.status === 'succeeded' && r.chatSeq === r.lastSeq && r;
    }, 30_000, 'the run to finish and show in chat');
    const run = (await findRunByRef(t.app.context().em, ref))!;
    // No render of this run still on its way (other channels' paced renders may be): what
    // happens next is the sweep's doing.
    await waitFor(async () => {
      const jobs = await t.app.queues.chat.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
      return jobs.every((j) => j?.data.runId !== run.id);
    }, 10_000, 'the chat queue to drain of this run');
    // A render lost after the commit: chat shows less than the run's events (as if the process
    // died between storing the last event and rendering it).
    await sql(`update workflow_runs set chat_seq = chat_seq - 2, updated_at = now() - interval '5 seconds' where id = ?`, [run.id]);
    const updates = () => slack.callsOf('chat.update').filter((c) => c.args.ts === run.threadRef!.split(':')[2]);
    const before = updates().length;
    await waitFor(() => updates().length > before && updates().at(-1), 10_000, 'the sweep to re-render');
    expect(JSON.stringify(updates().at(-1)!.args.blocks)).toContain('succeeded');
    await waitFor(async () => {
      const r = await findRunByRef(t.app.context().em, ref);
      return r && r.chatSeq === r.lastSeq;
    }, 5000, 'chat to catch up');
  });
});

describe('retention', () => {
  it('prunes delivery ids past the redelivery window and keeps recent ones; events are kept unless a retention is set', async () => {
    await sql(`insert into processed_deliveries (platform, delivery_id, created_at) values ('slack', 'old-1', now() - interval '8 days'), ('slack', 'new-1', now())`);
    const finished = (await sql<{ id: string }>(`select id from workflow_runs where status = 'succeeded' order by id limit 1`))[0]!;
    await sql(`update workflow_runs set finished_at = now() - interval '40 days' where id = ?`, [finished.id]);
    const eventsBefore = (await sql<{ n: string }>(`select count(*) as n from run_events where run_id = ?`, [finished.id]))[0]!.n;
    const kept = await pruneRetained(t.app.context().em, { deliveryRetentionMs: 7 * 86_400_000, eventRetentionMs: 0 });
    expect(kept.deliveries).toBeGreaterThanOrEqual(1);
    expect(await sql(`select delivery_id from processed_deliveries where delivery_id in ('old-1', 'new-1')`)).toEqual([{ delivery_id: 'new-1' }]);
    expect((await sql<{ n: string }>(`select count(*) as n from run_events where run_id = ?`, [finished.id]))[0]!.n).toBe(eventsBefore);
    await pruneRetained(t.app.context().em, { deliveryRetentionMs: 7 * 86_400_000, eventRetentionMs: 30 * 86_400_000 });
    // The last event stays: it is what a feed shows for an old run.
    expect(await sql(`select seq from run_events where run_id = ?`, [finished.id])).toHaveLength(1);
  });
});
