import { Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { generateStory } from '../../core/stories/service.js';
import { handleRunJobError } from '../run-failures.js';
import { inJobContext, QUEUE_NAMES, type RunJob } from '../queues.js';

export interface StoryWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** BullMQ telemetry (traces) when tracing is on. */
  telemetry?: Telemetry | undefined;
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
  const worker = new Worker<RunJob>(QUEUE_NAMES.story, (job) => {
    const ctx = opts.context();
    return inJobContext(job, ctx.logger, () => processStoryJob(job, ctx));
  }, {
    connection: opts.connection,
    prefix: opts.prefix,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
    concurrency: opts.concurrency,
  });
  return worker;
}
