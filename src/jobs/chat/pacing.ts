import type { Redis } from 'ioredis';
import type { RenderPlan } from '../../core/chat/render.js';

/**
 * A token bucket: `burst` tokens at most, refilled at `perSecond`. `reserve` is what progress
 * (an intermediate state of a run) must leave in the bucket for outcomes.
 */
export interface Bucket {
  perSecond: number;
  burst: number;
  reserve: number;
}

/**
 * A platform's documented limits. `channel`: messages into one channel or conversation (and, when
 * there is no `edits` bucket, edits too). `edits`: editing messages, shared by the whole workspace.
 */
export interface PlatformLimits {
  channel: Bucket;
  edits?: Bucket;
}

/**
 * A run's progress is not shown in its first moments: most runs (a story from the offline
 * generator or the cache) reach their outcome by then, which is posted at once, in final form,
 * instead of a message that is edited three times. The command's answer already says it is queued.
 */
export const PROGRESS_GRACE_MS = 1000;

/**
 * Slack: chat.postMessage about one message per second per channel, short bursts allowed;
 * chat.update is Tier 3 (50+ per minute per workspace, sporadic bursts). Discord: 5 messages per
 * 5 s per channel (discord.js also keeps Discord's own X-RateLimit buckets per route). Teams: per
 * bot and conversation 7 per second, 60 per 30 s, 1800 per hour.
 */
export function defaultLimits(slackIntervalMs = 1100, slackBurst = 3): Record<string, PlatformLimits> {
  return {
    // SLACK_CHANNEL_INTERVAL_MS=0: Slack is not paced (a workspace with raised limits, tests).
    ...(slackIntervalMs > 0 && { slack: { channel: { perSecond: 1000 / Math.max(1, slackIntervalMs), burst: slackBurst, reserve: 2 }, edits: { perSecond: 50 / 60, burst: 20, reserve: 10 } } }),
    discord: { channel: { perSecond: 1, burst: 5, reserve: 2 } },
    teams: { channel: { perSecond: 0.5, burst: 7, reserve: 2 } },
  };
}

/**
 * Takes what one render costs from its channel's bucket (and the workspace's edit bucket) in
 * Redis, so every process that renders shares one budget. Returns the ms to wait (0: render now)
 * or -1: another render of this run is already waiting and will show the latest state.
 *
 * An outcome always takes its tokens, going below zero when it must: it books the next free
 * tokens, so it waits only for outcomes booked before it, never for progress. Progress takes
 * tokens only while the bucket keeps its reserve; otherwise it waits (unbooked) and is looked at
 * again, or is folded into the run's outcome when that comes first. A channel or workspace told
 * to wait (429 Retry-After) is blocked until then.
 *
 * KEYS: channel bucket, edits bucket, the run's pending key, channel block, edits block.
 * ARGV: now, outcome, posts, edits, channel rate/ms, burst, reserve, edits rate/ms, burst, reserve, job,
 * the time before which progress is not shown.
 */
const PACE = `
local now = tonumber(ARGV[1])
local outcome = ARGV[2] == '1'
local posts, edits = tonumber(ARGV[3]), tonumber(ARGV[4])
local cRate, cBurst, cReserve = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local eRate, eBurst, eReserve = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local me = ARGV[11]
local notBefore = tonumber(ARGV[12])
local pending = redis.call('get', KEYS[3])
if pending and string.sub(pending, 3) ~= me then
  if string.sub(pending, 1, 1) == 'o' or not outcome then return -1 end
end
local function level(key, rate, burst)
  local v = redis.call('hmget', key, 't', 'at')
  if not v[1] then return burst end
  return math.min(burst, tonumber(v[1]) + (now - tonumber(v[2])) * rate)
end
local function save(key, tokens, rate, burst)
  redis.call('hset', key, 't', tostring(tokens), 'at', now)
  redis.call('pexpire', key, math.ceil((burst - tokens) / rate) + 1000)
end
local function blocked(key)
  local ms = redis.call('pttl', key)
  if ms > 0 then return ms end
  return 0
end
local c = level(KEYS[1], cRate, cBurst)
local e = 0
local block = blocked(KEYS[4])
if eRate > 0 then
  e = level(KEYS[2], eRate, eBurst)
  block = math.max(block, blocked(KEYS[5]))
end
local wait
if outcome then
  c = c - posts
  wait = math.max(block, -c / cRate)
  save(KEYS[1], c, cRate, cBurst)
  if eRate > 0 and edits > 0 then
    e = e - edits
    wait = math.max(wait, -e / eRate)
    save(KEYS[2], e, eRate, eBurst)
  end
  wait = math.ceil(wait)
  if wait > 0 then redis.call('set', KEYS[3], 'o:' .. me, 'PX', wait + 60000) elseif pending then redis.call('del', KEYS[3]) end
  return wait
end
wait = math.max(block, notBefore - now, (posts + cReserve - c) / cRate)
if eRate > 0 then wait = math.max(wait, (edits + eReserve - e) / eRate) end
if wait <= 0 then
  save(KEYS[1], c - posts, cRate, cBurst)
  if eRate > 0 then save(KEYS[2], e - edits, eRate, eBurst) end
  if pending then redis.call('del', KEYS[3]) end
  return 0
end
wait = math.ceil(wait)
redis.call('set', KEYS[3], 'p:' .. me, 'PX', wait + 60000)
return wait`;

export interface PaceKeys {
  prefix: string;
  platform: string;
  channel: string;
  runId: number;
}

/** Set while a render of the run waits for budget: `o:<job>` (an outcome, booked) or `p:<job>` (progress). */
export function pendingKey(prefix: string, runId: number): string {
  return `${prefix}:pace:run:${runId}`;
}
function channelKey(k: PaceKeys): string {
  return `${k.prefix}:pace:chan:${k.channel}`;
}
function editsKey(k: PaceKeys): string {
  return `${k.prefix}:pace:edits:${k.platform}`;
}

/**
 * Books one render. The edit an outcome makes of its run message is paid for by the progress
 * render that posted it (a progress render always takes one edit token), so a story never waits
 * for the workspace's edit budget; an approval card waiting for decisions pays its own edits.
 */
export async function pace(redis: Redis, limits: PlatformLimits, k: PaceKeys, plan: RenderPlan & { awaiting: boolean; progressNotBefore?: number }, job: string): Promise<number> {
  const { channel, edits } = limits;
  let posts = plan.posts;
  let editCost = plan.outcome ? (plan.awaiting ? plan.edits : 0) : 1;
  if (!edits) {
    posts += plan.edits;
    editCost = 0;
  }
  const cReserve = Math.max(0, Math.min(channel.reserve, channel.burst - posts));
  const eReserve = edits ? Math.max(0, Math.min(edits.reserve, edits.burst - editCost)) : 0;
  const blockKeys = [`${channelKey(k)}:block`, `${editsKey(k)}:block`];
  const wait = await redis.eval(
    PACE,
    5,
    channelKey(k),
    editsKey(k),
    pendingKey(k.prefix, k.runId),
    ...blockKeys,
    Date.now(),
    plan.outcome ? 1 : 0,
    posts,
    editCost,
    channel.perSecond / 1000,
    channel.burst,
    cReserve,
    edits ? edits.perSecond / 1000 : 0,
    edits?.burst ?? 0,
    eReserve,
    job,
    plan.progressNotBefore ?? 0,
  );
  return Number(wait);
}

/** The platform said 429: nothing goes to that channel (or the workspace's edits) until Retry-After has passed. */
export async function block(redis: Redis, k: PaceKeys, scope: 'channel' | 'edits', ms: number): Promise<void> {
  const key = scope === 'channel' ? `${channelKey(k)}:block` : `${editsKey(k)}:block`;
  const left = await redis.pttl(key);
  if (ms > left) await redis.set(key, '1', 'PX', Math.max(1, Math.ceil(ms)));
}

/** Marks the run's render as waiting (booked) so renders asked for meanwhile fold into it. */
export async function holdPending(redis: Redis, prefix: string, runId: number, job: string, ms: number): Promise<void> {
  await redis.set(pendingKey(prefix, runId), `o:${job}`, 'PX', Math.ceil(ms) + 60_000);
}

const CLEAR_MINE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** A booked render's turn came: renders asked for from now on book their own. */
export async function clearPending(redis: Redis, prefix: string, runId: number, job: string): Promise<void> {
  await redis.eval(CLEAR_MINE, 1, pendingKey(prefix, runId), `o:${job}`);
}
