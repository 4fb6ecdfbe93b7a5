import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { PermanentFailure } from '../../core/errors.js';
import { generateStory } from '../../core/services/stories.js';
import { recordEvent } from '../../core/services/runs.js';
import { QUEUE_NAMES, type RunJob } from '../queues.js';

export interface StoryWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** A fresh context (own EntityManager fork) per job. */
  context: () => CoreContext;
}

/** Marks the run failed with a message the user can act on, then tells BullMQ not to retry. */
async function failRun(ctx: CoreContext, runId: number, message: string) {
  const event = await recordEvent(ctx.em, ctx.publisher, runId, { status: 'failed', stage: 'failed', message, error: message });
  if (event) await ctx.scheduler.enqueueChatRender(runId, event.seq);
}

export async function processStoryJob(job: Job<RunJob>, ctx: CoreContext): Promise<{ storyId: number } | undefined> {
  const { runId } = job.data;
  try {
    const story = await generateStory({ ctx, runId });
    return story ? { storyId: story.id } : undefined;
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof PermanentFailure) {
      await failRun(ctx, runId, message);
      throw new UnrecoverableError(message);
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 >= attempts) {
      await failRun(ctx, runId, `Gave up after ${attempts} attempts: ${message}`);
    } else {
      const delay = Math.round(2000 * 2 ** job.attemptsMade / 1000);
      const event = await recordEvent(ctx.em, ctx.publisher, runId, {
        message: `Attempt ${job.attemptsMade + 1} of ${attempts} failed (${message}); retrying in ${delay}s`,
      });
      if (event) await ctx.scheduler.enqueueChatRender(runId, event.seq);
    }
    throw err;
  }
}

export function createStoryWorker(opts: StoryWorkerOptions): Worker<RunJob> {
  const worker = new Worker<RunJob>(QUEUE_NAMES.story, (job) => processStoryJob(job, opts.context()), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
  return worker;
}
