import { Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { generateDocs } from '../../core/docs/service.js';
import { inJobContext, QUEUE_NAMES, type RunJob } from '../queues.js';
import { handleRunJobError } from '../run-failures.js';

export async function processDocsJob(job: Job<RunJob>, ctx: CoreContext): Promise<void> {
  try {
    await generateDocs({ ctx, runId: job.data.runId });
  } catch (err) {
    await handleRunJobError(job, ctx, job.data.runId, err);
  }
}

export function createDocsWorker(opts: { connection: Redis; prefix: string; concurrency: number; context: () => CoreContext; telemetry?: Telemetry | undefined }): Worker<RunJob> {
  return new Worker<RunJob>(QUEUE_NAMES.docs, (job) => {
    const ctx = opts.context();
    return inJobContext(job, ctx.logger, () => processDocsJob(job, ctx));
  }, {
    connection: opts.connection,
    prefix: opts.prefix,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
    concurrency: opts.concurrency,
  });
}
