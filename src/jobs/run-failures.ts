import { UnrecoverableError, type Job } from 'bullmq';
import type { CoreContext } from '../core/context.js';
import { PermanentFailure } from '../core/errors.js';
import { advance, RunClosed } from '../core/runs/advance.js';

/**
 * What every run's job does when its work throws. A run that finished meanwhile (cancelled,
 * expired) ends the job quietly. A permanent failure fails the run with its message and tells
 * BullMQ not to retry; a transient one is shown in the run and retried with backoff, and on the
 * last attempt fails the run saying so.
 */
export async function handleRunJobError(job: Job, ctx: CoreContext, runId: number, err: unknown): Promise<undefined> {
  if (err instanceof RunClosed) return undefined;
  const message = (err as Error).message;
  if (err instanceof PermanentFailure) {
    await advance(ctx, runId, { status: 'failed', message, error: message });
    throw new UnrecoverableError(message);
  }
  const attempts = job.opts.attempts ?? 1;
  if (job.attemptsMade + 1 >= attempts) {
    const final = `Gave up after ${attempts} attempts: ${message}`;
    await advance(ctx, runId, { status: 'failed', message: final, error: final });
  } else {
    await advance(ctx, runId, { message: `Attempt ${job.attemptsMade + 1} of ${attempts} failed (${message}); retrying` });
  }
  throw err;
}
