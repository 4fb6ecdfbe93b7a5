import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTestApp, waitFor, removeRedisKeys, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { testPrefix } from '../helpers/tmp.js';
import { findRunByRef } from '../../src/core/runs/queries.js';
import { defaultLimits, pace, pendingKey } from '../../src/jobs/chat/pacing.js';

/**
 * Chat pacing against a Slack stand-in that enforces Slack's limits (1 message per second per
 * channel with short bursts, chat.update 50 per minute; 429 + Retry-After past them): a run in an
 * idle channel shows its story at once, a burst in one channel is spread without a single 429,
 * a Retry-After is waited out, and an outcome never waits behind progress.
 */

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN, limits: {} });
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl });
});
afterAll(async () => {
  await t?.stop();
  await slack?.close();
});

async function storyCommand(channel: string, n: string): Promise<{ ref: string; ackedAt: number }> {
  const body = slashCommandBody({ text: `story As an analyst I want to export sales report ${n} as CSV so that I can share it with finance`, user_id: `U${n}`, channel_id: channel, trigger_id: `t-${channel}-${n}` });
  const res = await postToSlack(t.url, body);
  const ackedAt = Date.now();
  return { ref: /R-\d+/.exec(((await res.json()) as { text: string }).text)![0], ackedAt };
}

const storyPost = (ref: string) => slack.calls.find((c) => c.method === 'chat.postMessage' && !c.limited && c.args.thread_ts && String(c.args.text).startsWith(`User story ${ref}`));
const inChannel = (channel: string) => slack.calls.filter((c) => /^chat\.(postMessage|update)$/.test(c.method) && c.args.channel === channel);

describe('Slack pacing', () => {
  it('shows the story in an idle channel as soon as it is stored', async () => {
    const { ref, ackedAt } = await storyCommand('CIDLE', 'idle');
    await waitFor(async () => Boolean(storyPost(ref)), 10_000, 'the story in the thread');
    // The old schedule spaced a run's own messages 1.1 s apart even in an idle channel.
    expect(storyPost(ref)!.at! - ackedAt).toBeLessThan(1000);
    expect(inChannel('CIDLE').filter((c) => c.limited)).toEqual([]);
  });

  it('spreads a burst of 8 runs in one channel within Slack’s limits, each ending on its final state', async () => {
    const before = slack.limits!.total429;
    const runs = await Promise.all(Array.from({ length: 8 }, (_, i) => storyCommand('CBUSY', `b${i}`)));
    await waitFor(async () => {
      const all = await Promise.all(runs.map((r) => findRunByRef(t.app.context().em, r.ref)));
      return all.every((r) => r?.status === 'succeeded' && r.chatSeq === r.lastSeq) && runs.every((r) => storyPost(r.ref));
    }, 40_000, 'every run and story shown');
    expect(slack.limits!.total429 - before, 'the stand-in answered 429').toBe(0);
    expect(slack.limits!.ignoredRetryAfter).toBe(0);
    // Coalesced: each run message shows its final state, and fewer calls than the events.
    for (const { ref } of runs) {
      const r = (await findRunByRef(t.app.context().em, ref))!;
      const ts = r.threadRef!.split(':')[2];
      const last = [...slack.calls].reverse().find((c) => !c.limited && ((c.method === 'chat.update' && c.args.ts === ts) || (c.method === 'chat.postMessage' && c.ts === ts)));
      expect(String(last!.args.text), ref).toContain('succeeded');
    }
  }, 60_000);

  it('waits out a Retry-After before sending into that channel again', async () => {
    slack.limits!.limitNext('CRETRY', 2);
    const { ref } = await storyCommand('CRETRY', 'r');
    await waitFor(async () => Boolean(storyPost(ref)), 15_000, 'the story after the wait');
    const calls = inChannel('CRETRY');
    const limited = calls.find((c) => c.limited)!;
    expect(limited).toBeDefined();
    const next = calls[calls.indexOf(limited) + 1]!;
    expect(next.at! - limited.at!).toBeGreaterThanOrEqual(2000);
    expect(slack.limits!.ignoredRetryAfter).toBe(0);
  }, 30_000);
});

describe('budgets (token buckets in Redis)', () => {
  let redis: Redis;
  const prefix = testPrefix();
  const slackLimits = defaultLimits(1000, 3).slack!;
  const keys = (channel: string, runId: number) => ({ prefix, platform: 'slack', channel, runId });
  const progressFirst = { outcome: false, posts: 1, edits: 0, awaiting: false };
  const story = { outcome: true, posts: 1, edits: 1, awaiting: false };
  const storyUnposted = { outcome: true, posts: 2, edits: 0, awaiting: false };
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await removeRedisKeys(prefix);
    await redis.quit();
  });

  it('lets an outcome through while progress in the same channel waits', async () => {
    // Run 1 posts its run message and its story: the channel's burst is nearly spent.
    expect(await pace(redis, slackLimits, keys('slack:C1', 1), progressFirst, 'j1')).toBe(0);
    expect(await pace(redis, slackLimits, keys('slack:C1', 1), story, 'j1b')).toBe(0);
    // Run 2's progress must leave room for outcomes: it waits (about a second's refill and more).
    const progressWait = await pace(redis, slackLimits, keys('slack:C1', 2), progressFirst, 'j2');
    expect(progressWait).toBeGreaterThan(500);
    // Run 3's story comes after, and goes first: it waits for no progress.
    const outcomeWait = await pace(redis, slackLimits, keys('slack:C1', 3), storyUnposted, 'j3');
    expect(outcomeWait).toBeLessThan(progressWait);
    expect(outcomeWait).toBeLessThanOrEqual(1100);
    // Further outcomes book the turns after it, a second apart: never two at once.
    const next = await pace(redis, slackLimits, keys('slack:C1', 4), storyUnposted, 'j4');
    expect(next - outcomeWait).toBeGreaterThanOrEqual(1900);
  });

  it('folds renders of a waiting run, and an outcome takes over its waiting progress', async () => {
    await pace(redis, slackLimits, keys('slack:C2', 10), storyUnposted, 'x');
    await pace(redis, slackLimits, keys('slack:C2', 10), progressFirst, 'x2');
    const waiting = await pace(redis, slackLimits, keys('slack:C2', 11), progressFirst, 'p11');
    expect(waiting).toBeGreaterThan(0);
    expect(await redis.get(pendingKey(prefix, 11))).toBe('p:p11');
    // More progress of run 11 folds into the waiting render.
    expect(await pace(redis, slackLimits, keys('slack:C2', 11), progressFirst, 'p11b')).toBe(-1);
    // Its outcome does not: it books its own turn.
    expect(await pace(redis, slackLimits, keys('slack:C2', 11), storyUnposted, 'o11')).toBeGreaterThanOrEqual(0);
    expect(await redis.get(pendingKey(prefix, 11))).toMatch(/^o:o11$|^null$/);
  });

  it('holds progress edits back when the workspace’s edit budget runs short, never a story', async () => {
    // Spend the workspace's chat.update budget down to its reserve with progress edits in many channels.
    let n = 0;
    while ((await pace(redis, slackLimits, keys(`slack:E${n}`, 100 + n), { outcome: false, posts: 0, edits: 1, awaiting: false }, `e${n}`)) === 0) n++;
    expect(n).toBeLessThanOrEqual(slackLimits.edits!.burst - slackLimits.edits!.reserve + 1);
    // Approval cards (outcomes that pay their own edits) spend the rest, and then some.
    let m = 0;
    while ((await pace(redis, slackLimits, keys(`slack:A${m}`, 300 + m), { outcome: true, posts: 0, edits: 1, awaiting: true }, `a${m}`)) === 0) m++;
    expect(m).toBeGreaterThan(0);
    // A story whose run message was posted earlier (its edit paid for then) is shown at once.
    expect(await pace(redis, slackLimits, keys('slack:E-story', 200), story, 's200')).toBe(0);
  });

  it('blocks a channel for its Retry-After', async () => {
    await redis.set(`${prefix}:pace:chan:slack:C3:block`, '1', 'PX', 3000);
    expect(await pace(redis, slackLimits, keys('slack:C3', 20), storyUnposted, 'b20')).toBeGreaterThan(2500);
  });
});
