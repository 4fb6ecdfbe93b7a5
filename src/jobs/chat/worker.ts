import { randomUUID } from 'node:crypto';
import { DelayedError, Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChatAdapter } from '../../core/chat/adapter.js';
import type { ProjectConfig } from '../../core/config.js';
import { chatShows, renderPlan, renderRunInChat, type RenderOutcome } from '../../core/chat/render.js';
import { ChatRateLimitedError } from '../../core/chat/adapter.js';
import { PROGRESS_GRACE_MS, block, clearPending, holdPending, pace, pendingKey, type PlatformLimits } from './pacing.js';
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
  /** Each platform's documented limits (pacing.ts); a platform without is not paced. */
  limits?: Partial<Record<string, PlatformLimits>>;
}

/** Kept for callers that still catch it; renders of one run no longer fail on each other. */
export class ChatBusyError extends Error {
  override name = 'ChatBusyError';
}

export type ChatJobOutcome = RenderOutcome | 'coalesced' | 'paced';

/** Takes the run's render lock, or (held) marks the run dirty: the holder renders once more. */
const CLAIM = `
if redis.call('set', KEYS[1], ARGV[1], 'PX', 30000, 'NX') then redis.call('del', KEYS[2]) return 1 end
redis.call('set', KEYS[2], '1', 'PX', 60000)
return 0`;
/** Done rendering: again (1, lock kept) when the run was marked dirty meanwhile, else released (0). */
const AGAIN = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('del', KEYS[2]) == 1 then redis.call('pexpire', KEYS[1], 30000) return 1 end
redis.call('del', KEYS[1])
return 0`;
/** Gives the lock up without rendering again (the run's render waits for budget and will show the latest state). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[2]) return redis.call('del', KEYS[1]) else return 0 end`;

const CLEAR_MINE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Set while a run has a render waiting for its channel's budget. */
export function pacedRenderKey(prefix: string, runId: number): string {
  return pendingKey(prefix, runId);
}

type ChatJob = Pick<Job<ChatRenderJob>, 'data'> & Partial<Pick<Job<ChatRenderJob>, 'id' | 'moveToDelayed' | 'updateData'>>;

type Step = { done: ChatJobOutcome } | { waitMs: number };

/** One render of the run's latest state, after taking what it costs from the platform's budget (unless already paid). */
async function renderStep(opts: ChatWorkerOptions, runId: number, me: string, paid: boolean): Promise<Step> {
  const em = opts.em();
  const run = await findRunById(em, runId);
  if (!run) return { done: 'up to date' };
  const limits = run.channel ? opts.limits?.[run.sourcePlatform] : undefined;
  const keys = { prefix: opts.prefix, platform: run.sourcePlatform, channel: run.channel ?? '', runId };
  if (paid) await clearPending(opts.connection, opts.prefix, runId, me);
  else if (run.chatSeq >= run.lastSeq) return { done: 'up to date' };
  else if (limits) {
    const wait = await pace(opts.connection, limits, keys, { ...renderPlan(run), awaiting: run.status === 'waiting_approval', progressNotBefore: Date.parse(run.createdAt) + PROGRESS_GRACE_MS }, me);
    if (wait < 0) return { done: 'coalesced' };
    if (wait > 0) return { waitMs: wait };
  }
  try {
    return { done: await renderRunInChat({ em, adapters: opts.adapters, publicUrl: opts.publicUrl, logger: opts.logger, ...(opts.projects && { projects: opts.projects }), githubOn: Boolean(opts.githubOn) }, runId) };
  } catch (err) {
    if (!(err instanceof ChatRateLimitedError) || !run.channel) throw err;
    // Told to wait: nothing more goes there until Retry-After has passed, and this render (already
    // paid for) is tried again right after; renders asked for meanwhile fold into it.
    opts.logger.warn({ run: run.ref, scope: err.scope, ms: err.retryAfterMs }, 'chat platform asked to wait (429)');
    await block(opts.connection, keys, err.scope, err.retryAfterMs);
    await holdPending(opts.connection, opts.prefix, runId, me, err.retryAfterMs);
    return { waitMs: err.retryAfterMs };
  }
}

/**
 * Schedules and serialises chat renders. Renders of one run hold a Redis lock and always show the
 * latest state: a render asked for while another runs marks the run dirty and the running one
 * renders once more, so chat edits never go backwards and bursts of events cost one or two API
 * calls. Each render takes what it sends from the platform's token buckets (pacing.ts): an
 * outcome books its turn, progress waits while the budget is short or folds into the outcome.
 * What to render is decided in core (core/chat/render.ts).
 */
export async function processChatJob(opts: ChatWorkerOptions, job: ChatJob, token?: string): Promise<ChatJobOutcome> {
  const { runId, seq } = job.data;
  let paid = Boolean(job.data.booked);
  const me = job.id ?? randomUUID();
  // Progress that waited for budget looks at it afresh (and must not hold the run's renders back).
  if (job.data.waited) await opts.connection.eval(CLEAR_MINE, 1, pendingKey(opts.prefix, runId), `p:${me}`);
  if (!paid && (await chatShows(opts.em(), runId, seq))) return 'up to date';
  const lockKey = `${opts.prefix}:lock:chat-run:${runId}`;
  const dirtyKey = `${lockKey}:dirty`;
  const lock = randomUUID();
  if (!Number(await opts.connection.eval(CLAIM, 2, lockKey, dirtyKey, lock))) return 'coalesced';
  let result: ChatJobOutcome = 'up to date';
  let waitMs = 0;
  let held = true;
  try {
    for (;;) {
      const step = await renderStep(opts, runId, me, paid);
      paid = false;
      if ('waitMs' in step) {
        waitMs = step.waitMs;
        break;
      }
      result = step.done;
      if (!Number(await opts.connection.eval(AGAIN, 2, lockKey, dirtyKey, lock))) {
        held = false;
        break;
      }
    }
  } finally {
    if (held) await opts.connection.eval(RELEASE, 2, lockKey, dirtyKey, lock);
  }
  if (waitMs <= 0) return result;
  if (!job.moveToDelayed || !job.updateData || !token) {
    await opts.connection.del(pendingKey(opts.prefix, runId));
    return 'paced';
  }
  // An outcome's booking (or a render told to wait) renders when its turn comes without paying
  // again; progress looks at the budget again.
  const booked = (await opts.connection.get(pendingKey(opts.prefix, runId))) === `o:${me}`;
  await job.updateData({ ...job.data, booked, waited: !booked });
  await job.moveToDelayed(Date.now() + waitMs, token);
  throw new DelayedError();
}

export function createChatWorker(opts: ChatWorkerOptions): Worker<ChatRenderJob> {
  return new Worker<ChatRenderJob>(QUEUE_NAMES.chat, (job, token) => inJobContext(job, opts.logger, () => processChatJob(opts, job, token)), {
    connection: opts.connection,
    prefix: opts.prefix,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
    concurrency: opts.concurrency,
  });
}
