import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { generateStory } from '../../core/services/stories.js';
import { handleRunJobError } from '../run-failures.js';
import { QUEUE_NAMES, type RunJob } from '../queues.js';

export interface StoryWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** A fresh context (own EntityManager fork) per job. */
  context: () => CoreContext;
}

export async function processStoryJob(job: Job<RunJob>, ctx: CoreContext): Promise<{ storyId: number } | undefined> {
  try {
    const story = await generateStory({ ctx, runId: job.data.runId });
    return story ? { storyId: story.id } : undefined;
  } catch (err) {
    return handleRunJobError(job, ctx, job.data.runId, err);
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
