import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { EventPublisher, JobScheduler, JobTrace } from '../context.js';
import { annotateLog, logContext } from '../logger.js';
import { AppError, ServiceUnavailableError, ValidationError } from '../errors.js';
import { unstorableText, type RunEventMessage, type RunKind, type RunSummary } from './model.js';
import { findDeliveries, insertRuns, type RunRow } from './store.js';

/**
 * Intake: what must happen before a command is acknowledged. The run, its delivery id and its
 * first event are committed to Postgres; then its job goes on the queue and the event to the live
 * feeds. `submit` resolves when the run is stored, saying whether its job is queued too: when
 * Redis is down the run is kept and the recovery sweep queues it once Redis is back, and the
 * person is told exactly that.
 *
 * Commands are written in groups (group commit): when nothing is being written a command is
 * written at once, alone; while writes are in flight, arrivals wait and then go together in one
 * statement, one commit and one bulk enqueue. One bad command never fails its group: a group the
 * database refuses is written again one command at a time.
 */

export interface NewRun {
  kind: RunKind;
  requestedBy: string;
  sourcePlatform: string;
  channel?: string | null;
  projectKey?: string | null;
  input: Record<string, unknown>;
  /**
   * The platform's id for this delivery; a second delivery with the same id creates nothing.
   * `requestHash` (API requests) tells a retry of the same request from a reused key.
   */
  delivery: { platform: string; id: string; requestHash?: string };
  message?: string;
  /** Chat references known at intake (e.g. a Discord interaction token), stored with the run. */
  chatRefs?: Record<string, string>;
}

export interface CreatedRun {
  run: RunSummary;
  duplicate: boolean;
  event?: RunEventMessage;
  /** false: stored, but the queue (Redis) is down; it starts when the queue is back. */
  queued: boolean;
}

export interface RunIntake {
  submit(input: NewRun): Promise<CreatedRun>;
  /** Waits for every submitted command to be written. */
  drain(): Promise<void>;
}

export interface IntakeOptions {
  em: () => EntityManager;
  scheduler: JobScheduler;
  publisher: EventPublisher;
  logger: Logger;
  /** Writes in flight at once (each holds one database connection). */
  concurrency?: number;
  maxBatch?: number;
  /** How long enqueueing may take before the run is acknowledged as stored-but-not-queued. */
  queueTimeoutMs?: number;
}

/**
 * A command's delivery, as intake dedupes it. A request with an Idempotency-Key (it carries a
 * `requestHash`) is keyed by the API whatever credential sent it, so a person's console session
 * and their API tokens share their keys; otherwise the platform's own delivery id.
 */
export function deliveryOf(actor: { platform: string }, input: { deliveryId: string; requestHash?: string | undefined }): NewRun['delivery'] {
  return { platform: input.requestHash ? 'api' : actor.platform, id: input.deliveryId, ...(input.requestHash && { requestHash: input.requestHash }) };
}

/** An Idempotency-Key used again for a different request. */
export class IdempotencyConflict extends AppError {
  override readonly status = 422;
  override readonly code = 'idempotency_key_reused';
}

interface Pending {
  input: NewRun;
  /** The submitting request's ids: its run's jobs log them too. */
  trace: JobTrace;
  resolve(r: CreatedRun): void;
  reject(e: unknown): void;
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '08006', '08001', '08003']);

/** The database did not answer (as opposed to refusing one command's data). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; name?: string };
  return Boolean(
    (e?.code && CONNECTION_ERRORS.has(e.code)) ||
      /Knex: Timeout acquiring a connection|Connection terminated|connect ECONNREFUSED|timeout expired/i.test(e?.message ?? '') ||
      e?.name === 'ConnectionException',
  );
}

function checkStorable(input: NewRun): void {
  const strings = [input.requestedBy, input.channel ?? '', input.delivery.id, ...Object.values(input.input).filter((v): v is string => typeof v === 'string')];
  for (const s of strings) {
    const problem = unstorableText(s);
    if (problem) throw new ValidationError(`The command contains ${problem}; remove it and try again.`);
  }
}

function toRow(input: NewRun, ord: number): RunRow {
  return {
    ord,
    platform: input.delivery.platform,
    delivery_id: input.delivery.id,
    request_hash: input.delivery.requestHash ?? null,
    kind: input.kind,
    project_key: input.projectKey ?? null,
    requested_by: input.requestedBy,
    source_platform: input.sourcePlatform,
    channel: input.channel ?? null,
    input: input.input,
    message: input.message ?? 'Queued',
    chat_refs: input.chatRefs ?? {},
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

export function createRunIntake(opts: IntakeOptions): RunIntake {
  const concurrency = opts.concurrency ?? 4;
  const maxBatch = opts.maxBatch ?? 256;
  const queueTimeoutMs = opts.queueTimeoutMs ?? 1000;
  let waiting: Pending[] = [];
  let inFlight = 0;
  const idle: Array<() => void> = [];

  /** Writes a group; on a refusal that is not an outage, each command alone. */
  async function store(batch: Pending[]): Promise<Array<{ p: Pending; created?: CreatedRun }>> {
    try {
      return await storeTogether(batch);
    } catch (err) {
      if (batch.length === 1 || isConnectionError(err)) throw err;
      opts.logger.warn({ err: (err as Error).message, size: batch.length }, 'a group of commands was refused; writing them one by one');
      const settled = await Promise.all(
        batch.map(async (p) => {
          try {
            return (await storeTogether([p]))[0]!;
          } catch (e) {
            p.reject(refusal(e));
            return { p };
          }
        }),
      );
      return settled;
    }
  }

  async function storeTogether(batch: Pending[]): Promise<Array<{ p: Pending; created?: CreatedRun }>> {
    const em = opts.em();
    const inserted = await insertRuns(em, batch.map((p, i) => toRow(p.input, i)));
    const out: Array<{ p: Pending; created?: CreatedRun }> = batch.map((p) => ({ p }));
    for (const r of inserted) out[r.ord]!.created = { run: r.run, duplicate: false, event: r.event, queued: false };
    const missing = out.filter((o) => !o.created);
    if (missing.length) {
      const found = await findDeliveries(em, missing.map((o) => ({ platform: o.p.input.delivery.platform, deliveryId: o.p.input.delivery.id })));
      const byKey = new Map(found.map((d) => [`${d.platform}\u0000${d.deliveryId}`, d]));
      for (const o of missing) {
        const d = byKey.get(`${o.p.input.delivery.platform}\u0000${o.p.input.delivery.id}`);
        if (!d) throw new Error(`delivery ${o.p.input.delivery.platform}:${o.p.input.delivery.id} recorded without a run`);
        const hash = o.p.input.delivery.requestHash;
        if (hash && d.requestHash && hash !== d.requestHash) {
          o.p.reject(new IdempotencyConflict(`This Idempotency-Key was used for a different request (${d.run.ref}); use a new key for a new request.`));
          delete o.created;
          continue;
        }
        // A retry of a run that has not started: queued only if the queue answers now.
        o.created = { run: d.run, duplicate: true, queued: d.run.status !== 'queued' || opts.scheduler.available?.() !== false };
      }
    }
    return out;
  }

  function refusal(err: unknown): unknown {
    if (err instanceof AppError) return err;
    if (isConnectionError(err)) return new ServiceUnavailableError('Nothing was queued: the database is not answering. Please try again in a minute.');
    return new ValidationError('The database refused this command, so nothing was queued. Check the text for unusual characters and try again.');
  }

  /**
   * The jobs and the live feed's first events go out together (one round trip less per group):
   * the runs are committed, so a subscriber never sees a run that could be lost; a run whose job
   * did not make it is queued again by the recovery sweep.
   */
  async function enqueue(items: Array<{ created: CreatedRun; trace: JobTrace }>): Promise<void> {
    if (items.length === 0) return;
    const fresh = items.map((i) => i.created);
    const events = fresh.flatMap((c) => (c.event ? [c.event] : []));
    const queued = withTimeout(opts.scheduler.enqueueRuns(items.map((i) => ({ ...i.created.run, trace: i.trace }))), queueTimeoutMs, 'enqueueing').then(
      () => fresh.forEach((c) => (c.queued = true)),
      (err: Error) => opts.logger.warn({ err: err.message, runs: fresh.map((c) => c.run.ref) }, 'runs stored but not queued (is Redis down?); the recovery sweep will queue them'),
    );
    const published = withTimeout(opts.publisher.publishMany(events), queueTimeoutMs, 'publishing').catch((err: Error) =>
      opts.logger.warn({ err: err.message }, 'first events stored but not published; feeds catch up by seq'),
    );
    await Promise.all([queued, published]);
  }

  async function write(batch: Pending[]) {
    try {
      const stored = await store(batch);
      const done = stored.filter((s): s is { p: Pending; created: CreatedRun } => Boolean(s.created));
      await enqueue(done.filter((s) => !s.created.duplicate).map((s) => ({ created: s.created, trace: s.p.trace })));
      for (const s of done) s.p.resolve(s.created);
    } catch (err) {
      opts.logger.error({ err, size: batch.length }, 'could not take in commands');
      const answer = refusal(err);
      for (const p of batch) p.reject(answer);
    }
  }

  function pump() {
    while (inFlight < concurrency && waiting.length) {
      const batch = waiting.slice(0, maxBatch);
      waiting = waiting.slice(batch.length);
      inFlight++;
      void write(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
    if (inFlight === 0 && waiting.length === 0) idle.splice(0).forEach((f) => f());
  }

  return {
    submit(input) {
      const { requestId } = logContext();
      const created = new Promise<CreatedRun>((resolve, reject) => {
        checkStorable(input);
        waiting.push({ input, trace: { requestId, deliveryId: input.delivery.id }, resolve, reject });
        pump();
      });
      // The rest of the request logs the run it created.
      return created.then((c) => {
        annotateLog({ run: c.run.ref, deliveryId: input.delivery.id });
        return c;
      });
    },
    drain() {
      if (inFlight === 0 && waiting.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}
