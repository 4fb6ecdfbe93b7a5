import type { Queue } from 'bullmq';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { unfinishedRuns } from '../core/services/runs.js';
import type { RunJob } from './queues.js';

/**
 * Runs are written to Postgres before they are acknowledged; the queue is how they get worked
 * on. After a Redis restart (or a crash between the two writes) a run can be queued in the
 * database with no job: put it back. A job that still exists is left alone (BullMQ's stalled-job
 * check hands a crashed worker's job to the next worker).
 */
export async function requeueUnfinishedRuns(em: EntityManager, queues: Record<string, Queue<RunJob>>, logger: Logger): Promise<number> {
  const runs = await unfinishedRuns(em, Object.keys(queues) as Array<'story'>);
  let requeued = 0;
  for (const run of runs) {
    const queue = queues[run.kind];
    if (!queue) continue;
    const jobId = `run-${run.id}`;
    const job = await queue.getJob(jobId);
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      await job.remove();
    }
    await queue.add(run.kind, { runId: run.id }, { jobId });
    requeued++;
  }
  if (requeued) logger.info({ requeued }, 'put unfinished runs back on the queue');
  return requeued;
}
