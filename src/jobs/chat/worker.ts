import { randomUUID } from 'node:crypto';
import { DelayedError, Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChatAdapter } from '../../core/chat/adapter.js';
import type { ProjectConfig } from '../../core/config.js';
import { chatShows, renderRunInChat, type RenderOutcome } from '../../core/chat/render.js';
import { findRunById } from '../../core/runs/queries.js';
import { inJobContext, QUEUE_NAMES, type ChatRenderJob } from '../queues.js';

export interface ChatWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** BullMQ telemetry (traces) when tracing is on. */
  telemetry?: Telemetry | undefined;
  adapters: Map<string, ChatAdapter>;
  em: () => EntityManager;
  publicUrl: string;
  logger: Logger;
  projects?: ProjectConfig[];
  githubOn?: boolean;
  /** Least time between two renders into one channel, per platform (Slack: about one message per second per channel). */
  channelIntervalMs?: Partial<Record<string, number>>;
}

/** Another render of the same run holds the lock: this job is retried shortly (expected, not an error). */
export class ChatBusyError extends Error {
  override name = 'ChatBusyError';
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export type ChatJobOutcome = RenderOutcome | 'coalesced' | 'paced';

/**
 * A channel's render schedule: each render takes the channel's next free slot (`interval` apart).
 * A run holds at most one booked slot; renders asked for meanwhile are folded into it (it shows
 * the latest state when its turn comes). Returns -1: folded; 0: render now; n: booked, n ms away.
 */
const BOOK = `
if redis.call('exists', KEYS[2]) == 1 then return -1 end
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local nxt = tonumber(redis.call('get', KEYS[1]) or '0')
local t = math.max(now, nxt)
redis.call('set', KEYS[1], t + interval, 'PX', (t - now) + interval * 2)
if t > now then redis.call('set', KEYS[2], t, 'PX', (t - now) + 60000) end
return t - now`;

/** Set while a run has a render booked in its channel's schedule. */
export function pacedRenderKey(prefix: string, runId: number): string {
  return `${prefix}:pace:run:${runId}`;
}

async function bookSlot(opts: ChatWorkerOptions, runId: number): Promise<{ wait: number; pendingKey?: string }> {
  const run = await findRunById(opts.em(), runId);
  const interval = run?.channel ? (opts.channelIntervalMs?.[run.sourcePlatform] ?? 0) : 0;
  if (!run?.channel || interval <= 0) return { wait: 0 };
  const pendingKey = pacedRenderKey(opts.prefix, runId);
  const wait = Number(await opts.connection.eval(BOOK, 2, `${opts.prefix}:pace:${run.channel}`, pendingKey, Date.now(), interval));
  return { wait, pendingKey };
}

type ChatJob = Pick<Job<ChatRenderJob>, 'data'> & Partial<Pick<Job<ChatRenderJob>, 'moveToDelayed' | 'updateData'>>;

/**
 * Schedules and serialises chat renders: renders of one run hold a Redis lock and always show the
 * latest state, so a render for an old seq that finds a newer one already shown does nothing:
 * chat edits never go backwards, and bursts of events cost one or two API calls. Renders into one
 * channel are paced (Slack allows about one message per second per channel): a burst of runs in
 * a channel waits its turn, one booked render per run. What to render is decided in core
 * (core/chat/render.ts).
 */
export async function processChatJob(opts: ChatWorkerOptions, job: ChatJob, token?: string): Promise<ChatJobOutcome> {
  const { runId, seq, booked } = job.data;
  const em = opts.em();
  if (booked) {
    // This job's slot came: from now on a new event books a new render of its own.
    await opts.connection.del(pacedRenderKey(opts.prefix, runId));
  } else {
    if (await chatShows(em, runId, seq)) return 'up to date';
    const { wait, pendingKey } = await bookSlot(opts, runId);
    if (wait < 0) return 'coalesced';
    if (wait > 0) {
      if (!job.moveToDelayed || !job.updateData || !token) {
        if (pendingKey) await opts.connection.del(pendingKey);
        return 'paced';
      }
      await job.updateData({ ...job.data, booked: true });
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError();
    }
  }
  const lockKey = `${opts.prefix}:lock:chat-run:${runId}`;
  const lock = randomUUID();
  if (!(await opts.connection.set(lockKey, lock, 'PX', 30_000, 'NX'))) throw new ChatBusyError(`run ${runId} is being rendered`);
  try {
    return await renderRunInChat({ em, adapters: opts.adapters, publicUrl: opts.publicUrl, logger: opts.logger, ...(opts.projects && { projects: opts.projects }), githubOn: Boolean(opts.githubOn) }, runId);
  } finally {
    await opts.connection.eval(RELEASE, 1, lockKey, lock);
  }
}

export function createChatWorker(opts: ChatWorkerOptions): Worker<ChatRenderJob> {
  return new Worker<ChatRenderJob>(QUEUE_NAMES.chat, (job, token) => inJobContext(job, opts.logger, () => processChatJob(opts, job, token)), {
    connection: opts.connection,
    prefix: opts.prefix,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
    concurrency: opts.concurrency,
  });
}
