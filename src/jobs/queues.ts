import { Queue, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobScheduler, JobTrace } from '../core/context.js';
import { logContext, withLogContext, type Logger } from '../core/logger.js';

/**
 * Job payloads carry ids only: secrets and user text stay in Postgres. Besides the run, the ids
 * that let its log lines be followed: the request that started it, the platform's delivery id
 * and the run's reference.
 */
export interface TracedJob extends JobTrace {
  run?: string;
}
export interface RunJob extends TracedJob {
  runId: number;
}
export interface ChatRenderJob extends TracedJob {
  runId: number;
  seq: number;
  /** Set by the chat worker: this render holds a booked (paid) turn in its channel's budget. */
  booked?: boolean;
  /** Set by the chat worker: this render waited for budget unbooked (progress). */
  waited?: boolean;
}

/**
 * Runs a job's work with its ids on every log line: the request that started it (or the job
 * itself when nothing did, e.g. a sweep), the delivery, the run, the queue and the job.
 */
export function inJobContext<T>(job: { id?: string | undefined; queueName: string; attemptsMade: number; data: TracedJob }, logger: Logger, fn: () => Promise<T>): Promise<T> {
  const { requestId, deliveryId, run } = job.data;
  return withLogContext({ requestId: requestId ?? `job:${job.queueName}:${job.id}`, deliveryId, run, queue: job.queueName, jobId: job.id }, async () => {
    const started = performance.now();
    logger.debug({ attempt: job.attemptsMade + 1 }, 'job started');
    const result = await fn();
    logger.debug({ ms: Math.round(performance.now() - started) }, 'job finished');
    return result;
  });
}

/** The ids a new job carries: given, else the current request's or job's. */
export function traceOf(given?: JobTrace, run?: string): TracedJob {
  const current = logContext();
  const t: TracedJob = { requestId: given?.requestId ?? current.requestId, deliveryId: given?.deliveryId ?? current.deliveryId, run: run ?? current.run };
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v)) as TracedJob;
}

export interface NotifyJob {
  runId: number;
  seq: number;
}
export interface WebhookJob {
  deliveryId: number;
}

export const QUEUE_NAMES = { story: 'story', docs: 'docs', deploy: 'deploy', chat: 'chat', notify: 'notify', webhook: 'webhook' } as const;

/**
 * Job ids: one per run and phase, so adding twice makes one job. They carry the installation id
 * (made with the database), so a queue prefix reused with a fresh database never finds an earlier
 * installation's `run-1` and takes it for its own.
 */
export function jobIds(installation: string) {
  return {
    /** The job that carries a run (or one phase of it). */
    run: (runId: number, phase?: string) => (phase ? `run-${installation}-${runId}-${phase}` : `run-${installation}-${runId}`),
    chat: (runId: number, seq: number, suffix?: string) => (suffix ? `chat-${installation}-${runId}-${seq}-${suffix}` : `chat-${installation}-${runId}-${seq}`),
    notify: (runId: number, seq: number, suffix?: string) => (suffix ? `notify-${installation}-${runId}-${seq}-${suffix}` : `notify-${installation}-${runId}-${seq}`),
    webhook: (deliveryId: number) => `webhook-${installation}-${deliveryId}`,
  };
}
export type JobIds = ReturnType<typeof jobIds>;

/** A job id of ours is held by a live job of another run: two installations share a prefix. */
export class ForeignJobError extends Error {
  override name = 'ForeignJobError';
}

interface OwnJob {
  name: string;
  /** The ids that follow the request into the job's log lines. */
  trace?: TracedJob;
  runId: number;
  jobId: string;
  delay?: number;
}

/**
 * Adds run jobs, then checks that each id holds this run's job: BullMQ silently keeps an
 * existing job under a repeated id. A finished or waiting job of another run is replaced; a
 * running one means two installations share the queue prefix, and is refused.
 */
async function addOwnJobs(redis: Redis, queue: Queue<RunJob>, jobs: OwnJob[], logger: Logger | undefined): Promise<void> {
  if (jobs.length === 0) return;
  await queue.addBulk(jobs.map((j) => ({ name: j.name, data: { runId: j.runId, ...j.trace }, opts: { jobId: j.jobId, ...(j.delay && { delay: j.delay }) } })));
  const stored = await Promise.all(jobs.map((j) => redis.hget(queue.toKey(j.jobId), 'data')));
  for (const [i, j] of jobs.entries()) {
    const data = stored[i];
    const owner = typeof data === 'string' ? (JSON.parse(data) as Partial<RunJob>).runId : undefined;
    // No data: the job already ran and was removed; only a job of another run is replaced.
    if (owner === undefined || owner === j.runId) continue;
    const job = await queue.getJob(j.jobId);
    const state = job ? await job.getState() : 'gone';
    if (state === 'active') throw new ForeignJobError(`job ${queue.name}/${j.jobId} is running for run ${owner}, not run ${j.runId}: is AUTODEVHUB_QUEUE_PREFIX shared with another installation?`);
    logger?.warn({ queue: queue.name, jobId: j.jobId, state, heldBy: owner, runId: j.runId }, 'job id held by another run; replacing it');
    await job?.remove();
    await queue.add(j.name, { runId: j.runId, ...j.trace }, { jobId: j.jobId, ...(j.delay && { delay: j.delay }) });
  }
}

/** Redis is not connected: the caller is told at once instead of waiting for a reconnect. */
export class QueueUnavailable extends Error {
  override name = 'QueueUnavailable';
}

export interface Queues {
  story: Queue<RunJob>;
  docs: Queue<RunJob>;
  deploy: Queue<RunJob>;
  chat: Queue<ChatRenderJob>;
  notify: Queue<NotifyJob>;
  webhook: Queue<WebhookJob>;
  scheduler: JobScheduler;
  queueFor(kind: string): Queue<RunJob>;
  ids: JobIds;
  close(): Promise<void>;
}

export interface QueueOptions {
  /** An auto-pipelining connection for the reads after an add (see addOwnJobs); default: the queues' own. */
  reads?: Redis;
  /** This installation's id (made with the database): in every job id, so a reused prefix never collides. */
  installation: string;
  logger?: Logger | undefined;
  telemetry?: Telemetry | undefined;
  /** Notify jobs are made only when something listens: webhook subscriptions or email. */
  notifications?: boolean;
  /** Webhook delivery attempts and the first backoff (doubling). */
  webhookAttempts?: number;
  webhookBackoffMs?: number;
}

export function createQueues(connection: Redis, prefix: string, opts: QueueOptions): Queues {
  const { telemetry, logger } = opts;
  const ids = jobIds(opts.installation);
  const DAY = 24 * 3600;
  const queue = <T>(name: string, attempts: number, backoffMs: number, keepDays: { done: number; failed: number }) =>
    new Queue<T>(name, {
      connection,
      prefix,
      ...(telemetry && { telemetry }),
      defaultJobOptions: {
        attempts,
        backoff: { type: 'exponential', delay: backoffMs },
        removeOnComplete: { age: keepDays.done * DAY, count: 10_000 },
        removeOnFail: { age: keepDays.failed * DAY },
      },
    });
  // Transient failures (Claude overloaded, network) retry: 2 s, 4 s, 8 s, 16 s.
  const story = queue<RunJob>(QUEUE_NAMES.story, 5, 2000, { done: 1, failed: 7 });
  const docs = queue<RunJob>(QUEUE_NAMES.docs, 5, 5000, { done: 7, failed: 30 });
  // GitHub outages: 5 s … 160 s. Waiting on checks is not a retry (delayed jobs).
  const deploy = queue<RunJob>(QUEUE_NAMES.deploy, 7, 5000, { done: 7, failed: 30 });
  const chat = queue<ChatRenderJob>(QUEUE_NAMES.chat, 8, 500, { done: 1 / 24, failed: 7 });
  const notify = queue<NotifyJob>(QUEUE_NAMES.notify, 8, 1000, { done: 1 / 24, failed: 7 });
  const webhook = queue<WebhookJob>(QUEUE_NAMES.webhook, opts.webhookAttempts ?? 6, opts.webhookBackoffMs ?? 10_000, { done: 7, failed: 30 });
  const queueFor = (kind: string) => {
    if (kind === 'story') return story;
    if (kind === 'deploy') return deploy;
    if (kind === 'docs') return docs;
    throw new Error(`no queue for runs of kind ${kind}`);
  };
  // ioredis queues commands while it reconnects (BullMQ needs that on its own connections);
  // a person waiting for an acknowledgement must not wait for a reconnect that may never come.
  const ready = () => {
    if (connection.status !== 'ready') throw new QueueUnavailable(`Redis is not connected (${connection.status})`);
  };
  return {
    story,
    docs,
    deploy,
    chat,
    notify,
    webhook,
    queueFor,
    ids,
    scheduler: {
      available: () => connection.status === 'ready',
      async enqueueRuns(runs) {
        if (runs.length === 0) return;
        ready();
        const byKind = new Map<string, typeof runs>();
        for (const r of runs) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
        await Promise.all(
          [...byKind].map(([kind, list]) =>
            addOwnJobs(opts.reads ?? connection, queueFor(kind), list.map((r) => ({ name: kind, runId: r.id, jobId: ids.run(r.id), trace: traceOf(r.trace, r.ref) })), logger),
          ),
        );
      },
      async enqueueChatRender(runId, seq, ref) {
        ready();
        await chat.add('render', { runId, seq, ...traceOf(undefined, ref) }, { jobId: ids.chat(runId, seq) });
      },
      async enqueueRunPhase(run, phase, delayMs) {
        ready();
        await addOwnJobs(opts.reads ?? connection, queueFor(run.kind), [{ name: phase, runId: run.id, jobId: ids.run(run.id, phase), trace: traceOf(undefined, run.ref), ...(delayMs && { delay: delayMs }) }], logger);
      },
      async enqueueNotify(runId, seq) {
        if (!opts.notifications) return;
        ready();
        await notify.add('notify', { runId, seq }, { jobId: ids.notify(runId, seq) });
      },
      async enqueueWebhookDeliveries(deliveryIds) {
        if (deliveryIds.length === 0) return;
        ready();
        await webhook.addBulk(deliveryIds.map((deliveryId) => ({ name: 'deliver', data: { deliveryId }, opts: { jobId: ids.webhook(deliveryId) } })));
      },
      async enqueueChatRenders(renders) {
        if (renders.length === 0) return;
        ready();
        await chat.addBulk(renders.map(({ runId, seq }) => ({ name: 'render', data: { runId, seq, ...traceOf() }, opts: { jobId: ids.chat(runId, seq) } })));
      },
    },
    async close() {
      await Promise.all([story.close(), docs.close(), deploy.close(), chat.close(), notify.close(), webhook.close()]);
    },
  };
}
