import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { EventPublisher } from '../events.js';
import type { JobScheduler } from '../context.js';
import { createRuns, type CreatedRun, type NewRun } from './runs.js';

/**
 * Intake: what must happen before a command is acknowledged. The run is committed to Postgres,
 * its job is on the queue, its first event is published; only then does `submit` resolve.
 *
 * Commands are written in groups (group commit): when nothing is being written, a command is
 * written at once, alone; while a write is in flight, arrivals wait for it and then go together
 * in one statement, one commit and one bulk enqueue. An idle server adds no delay; a busy one
 * pays one WAL flush per group instead of one per command.
 */
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
}

interface Pending {
  input: NewRun;
  resolve(r: CreatedRun): void;
  reject(e: unknown): void;
}

export function createRunIntake(opts: IntakeOptions): RunIntake {
  const concurrency = opts.concurrency ?? 4;
  const maxBatch = opts.maxBatch ?? 256;
  let queue: Pending[] = [];
  let inFlight = 0;
  const idle: Array<() => void> = [];

  async function write(batch: Pending[]) {
    try {
      const results = await createRuns(opts.em(), batch.map((p) => p.input));
      const fresh = results.filter((r) => !r.duplicate);
      // Job first, then the live feed: a subscriber never sees a run that could be lost.
      await opts.scheduler.enqueueRuns(fresh.map((r) => r.run));
      const events = fresh.flatMap((r) => (r.event ? [r.event] : []));
      // The chat message follows from the worker's first event; the acknowledgement itself
      // already tells the person their run is queued, so intake spends no queue write on it.
      await opts.publisher.publishMany(events);
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      opts.logger.error({ err, size: batch.length }, 'could not take in commands');
      for (const p of batch) p.reject(err);
    }
  }

  function pump() {
    while (inFlight < concurrency && queue.length) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight++;
      void write(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
    if (inFlight === 0 && queue.length === 0) idle.splice(0).forEach((f) => f());
  }

  return {
    submit(input) {
      return new Promise<CreatedRun>((resolve, reject) => {
        queue.push({ input, resolve, reject });
        pump();
      });
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}
