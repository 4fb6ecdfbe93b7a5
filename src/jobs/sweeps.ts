import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { chatViewsBehind, notificationsBehind, openRunsNeedingJobs, pruneRetained, REQUEUE_SETTLE_MS } from '../core/runs/maintenance.js';
import { pruneAuditLog } from '../core/audit/service.js';
import { stalledWebhookDeliveries } from '../core/notify/service.js';
import type { DeployRun } from '../core/runs/model.js';
import type { Queues } from './queues.js';
import { pacedRenderKey } from './chat/worker.js';

export interface SweepOptions {
  em: () => EntityManager;
  queues: Queues;
  connection: Redis;
  prefix: string;
  logger: Logger;
  /** How often the sweeps run (each run holds a Redis lock, so one process sweeps at a time). */
  intervalMs: number;
  /** A run whose chat view has been behind this long is rendered again. */
  chatGraceMs: number;
  deliveryRetentionMs: number;
  /** 0: run events are kept. */
  eventRetentionMs: number;
  /** 0 (the default): the audit log is kept. */
  auditRetentionMs: number;
  approvalTimeoutMs: (run: DeployRun) => number | undefined;
  /** Webhooks or email are configured: notify jobs exist and lost ones are made again. */
  notifications?: boolean;
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Runs are stored before they are acknowledged; the queue is how they get worked on. After Redis
 * restarted empty (or was flushed, or was down when a run was taken in) a run can be unfinished
 * in Postgres with no job: put it back. A job that still exists is left alone (BullMQ's
 * stalled-job check hands a crashed worker's job to the next worker).
 */
export async function requeueUnfinishedRuns(opts: Pick<SweepOptions, 'em' | 'queues' | 'connection' | 'logger' | 'approvalTimeoutMs'>): Promise<number> {
  const wanted = (await openRunsNeedingJobs(opts.em(), opts.approvalTimeoutMs)).map(({ run, needed }) => {
    const queue = opts.queues.queueFor(run.kind);
    // A run is carried by its first job or by a later phase's job; any live one will do.
    const ids = opts.queues.ids;
    const candidates = run.kind === 'deploy' ? [ids.run(run.id), ids.run(run.id, 'deploy'), ids.run(run.id, 'expire'), ids.run(run.id, 'turn')] : [ids.run(run.id)];
    return { run, needed, queue, jobId: ids.run(run.id, needed.phase), candidates };
  });
  if (wanted.length === 0) return 0;
  // One round trip: a job is live when its hash exists (timestamp), it has not finished, and it
  // is this run's (its data names the run: see addOwnJobs in queues.ts).
  const pipeline = opts.connection.pipeline();
  for (const w of wanted) for (const id of w.candidates) pipeline.hmget(w.queue.toKey(id), 'timestamp', 'finishedOn', 'data');
  const replies = ((await pipeline.exec()) ?? []).map(([, v]) => v as [string | null, string | null, string | null] | null);
  const runOf = (data: string | null | undefined) => (data ? (JSON.parse(data) as { runId?: number }).runId : undefined);
  let requeued = 0;
  let i = 0;
  for (const w of wanted) {
    const states = replies.slice(i, i + w.candidates.length);
    i += w.candidates.length;
    if (states.some((s) => s?.[0] != null && s[1] == null && runOf(s[2]) === w.run.id)) continue;
    // A finished job, or another run's, under the same id would make the add a no-op: it goes first.
    await (await w.queue.getJob(w.jobId))?.remove();
    await w.queue.add(w.needed.name, { runId: w.run.id, run: w.run.ref }, { jobId: w.jobId, ...(w.needed.delayMs && { delay: w.needed.delayMs }) });
    requeued++;
  }
  if (requeued) opts.logger.info({ requeued }, 'put unfinished runs back on the queue');
  return requeued;
}

/** Chat converges: a run whose chat view is behind its events (a lost publish or render) is rendered again. */
export async function rerenderLaggingChats(opts: Pick<SweepOptions, 'em' | 'queues' | 'logger' | 'chatGraceMs' | 'connection' | 'prefix'>): Promise<number> {
  const found = await chatViewsBehind(opts.em(), opts.chatGraceMs);
  if (found.length === 0) return 0;
  // Runs waiting their turn in a paced channel (a booked render) are behind on purpose.
  const booked = await opts.connection.mget(...found.map((r) => pacedRenderKey(opts.prefix, r.id)));
  const behind = found.filter((_, i) => booked[i] === null);
  if (behind.length === 0) return 0;
  // A render job of that id may exist as failed or completed; a bucketed id makes a fresh one,
  // at most one per run and seq every few minutes.
  const bucket = Math.floor(Date.now() / Math.max(opts.chatGraceMs, 1000));
  await opts.queues.chat.addBulk(behind.map((r) => ({ name: 'render', data: { runId: r.id, seq: r.lastSeq }, opts: { jobId: opts.queues.ids.chat(r.id, r.lastSeq, `sweep${bucket}`) } })));
  opts.logger.info({ runs: behind.length }, 'chat views behind their runs; rendering them again');
  return behind.length;
}

/**
 * Notifications converge like chat: a run whose notify job was lost gets one again, and a webhook
 * delivery left pending (its retry lost with Redis) is handed to a job again; a delivery whose
 * job still waits for its backoff keeps that job (same job id).
 */
export async function renotifyLagging(opts: Pick<SweepOptions, 'em' | 'queues' | 'logger' | 'chatGraceMs'>): Promise<number> {
  const behind = await notificationsBehind(opts.em(), opts.chatGraceMs);
  const bucket = Math.floor(Date.now() / Math.max(opts.chatGraceMs, 1000));
  if (behind.length) await opts.queues.notify.addBulk(behind.map((r) => ({ name: 'notify', data: { runId: r.id, seq: r.lastSeq }, opts: { jobId: opts.queues.ids.notify(r.id, r.lastSeq, `sweep${bucket}`) } })));
  const stalled = await stalledWebhookDeliveries(opts.em(), Math.max(opts.chatGraceMs, 60_000) * 10);
  if (stalled.length) await opts.queues.webhook.addBulk(stalled.map((deliveryId) => ({ name: 'deliver', data: { deliveryId }, opts: { jobId: opts.queues.ids.webhook(deliveryId) } })));
  if (behind.length || stalled.length) opts.logger.info({ runs: behind.length, deliveries: stalled.length }, 'notifications behind; handing them out again');
  return behind.length;
}

export async function pruneOldRecords(opts: Pick<SweepOptions, 'em' | 'logger' | 'deliveryRetentionMs' | 'eventRetentionMs' | 'auditRetentionMs'>): Promise<void> {
  const { deliveries, events } = await pruneRetained(opts.em(), opts);
  const audit = await pruneAuditLog(opts.em(), opts.auditRetentionMs);
  if (deliveries || events || audit) opts.logger.info({ deliveries, events, audit }, 'pruned records past their retention');
}

/** Starts the periodic sweeps; returns a function that stops them. */
export function startSweeps(opts: SweepOptions): () => Promise<void> {
  const lockKey = `${opts.prefix}:lock:sweeps`;
  let running: Promise<void> | undefined;
  let lastPrune = 0;
  const tick = async () => {
    const token = randomUUID();
    if (opts.connection.status !== 'ready') return;
    if (!(await opts.connection.set(lockKey, token, 'PX', Math.max(opts.intervalMs * 3, 30_000), 'NX'))) return;
    try {
      await requeueUnfinishedRuns(opts);
      await rerenderLaggingChats(opts);
      if (opts.notifications) await renotifyLagging(opts);
      if (Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        await pruneOldRecords(opts);
      }
    } finally {
      await opts.connection.eval(RELEASE, 1, lockKey, token);
    }
  };
  const sweep = () => {
    if (running) return;
    running = tick()
      .catch((err: unknown) => opts.logger.warn({ err: (err as Error).message }, 'sweep failed; next one in a moment'))
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(sweep, opts.intervalMs);
  timer.unref();
  // The sweep at start leaves alone runs changed in the last moments (REQUEUE_SETTLE_MS): the
  // first periodic one comes as soon as they have settled, not a whole interval later.
  const first = setTimeout(sweep, Math.min(opts.intervalMs, REQUEUE_SETTLE_MS + 100));
  first.unref();
  return async () => {
    clearInterval(timer);
    clearTimeout(first);
    await running;
  };
}
