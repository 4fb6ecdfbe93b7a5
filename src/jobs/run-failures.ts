import { UnrecoverableError, type Job } from 'bullmq';
import type { CoreContext } from '../core/context.js';
import { PermanentFailure } from '../core/errors.js';
import { recordEvent } from '../core/services/runs.js';

async function note(ctx: CoreContext, runId: number, patch: Parameters<typeof recordEvent>[3]) {
  const event = await recordEvent(ctx.em, ctx.publisher, runId, patch);
  if (event) await ctx.scheduler.enqueueChatRender(runId, event.seq);
}

/**
 * What every run's job does when its work throws. A permanent failure fails the run with its
 * message and tells BullMQ not to retry; a transient one is shown in the run and retried with
 * backoff, and on the last attempt fails the run saying so. Always rethrows.
 */
export async function handleRunJobError(job: Job, ctx: CoreContext, runId: number, err: unknown): Promise<never> {
  const message = (err as Error).message;
  if (err instanceof PermanentFailure) {
    await note(ctx, runId, { status: 'failed', message, error: message });
    throw new UnrecoverableError(message);
  }
  const attempts = job.opts.attempts ?? 1;
  if (job.attemptsMade + 1 >= attempts) {
    const final = `Gave up after ${attempts} attempts: ${message}`;
    await note(ctx, runId, { status: 'failed', message: final, error: final });
  } else {
    await note(ctx, runId, { message: `Attempt ${job.attemptsMade + 1} of ${attempts} failed (${message}); retrying` });
  }
  throw err;
}
