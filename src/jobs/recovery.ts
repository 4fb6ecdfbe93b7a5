import type { Queue } from 'bullmq';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { unfinishedRuns, type RunSummary } from '../core/services/runs.js';
import type { RunJob } from './queues.js';

/** Which job a run needs to go on: its first job, a later phase, or a delayed check. */
export interface NeededJob {
  name: string;
  jobId: string;
  delayMs?: number;
}

/** The default: a queued or running run needs its first job. Deploys add phases. */
export function neededJob(run: RunSummary, approvalTimeoutMs?: (run: RunSummary) => number | undefined): NeededJob | undefined {
  if (run.kind === 'deploy') {
    if (run.status === 'waiting_approval') {
      const timeout = approvalTimeoutMs?.(run);
      const requested = typeof run.result?.approvalRequestedAt === 'string' ? Date.parse(run.result.approvalRequestedAt) : Date.now();
      return { name: 'expire', jobId: `run-${run.id}-expire`, delayMs: Math.max(0, requested + (timeout ?? 3_600_000) - Date.now()) };
    }
    if (run.stage === 'deploy' || run.stage === 'verify') return { name: 'deploy', jobId: `run-${run.id}-deploy` };
  }
  if (run.status === 'queued' || run.status === 'running') return { name: run.kind, jobId: `run-${run.id}` };
  return undefined;
}

/**
 * Runs are written to Postgres before they are acknowledged; the queue is how they get worked
 * on. After a Redis restart (or a crash between the two writes) a run can be unfinished in the
 * database with no job: put it back. A job that still exists is left alone (BullMQ's stalled-job
 * check hands a crashed worker's job to the next worker).
 */
export async function requeueUnfinishedRuns(
  em: EntityManager,
  queues: Record<string, Queue<RunJob>>,
  logger: Logger,
  approvalTimeoutMs?: (run: RunSummary) => number | undefined,
): Promise<number> {
  const runs = await unfinishedRuns(em, Object.keys(queues) as Array<'story' | 'docs' | 'deploy'>);
  let requeued = 0;
  for (const run of runs) {
    const queue = queues[run.kind];
    const needed = neededJob(run, approvalTimeoutMs);
    if (!queue || !needed) continue;
    const job = await queue.getJob(needed.jobId);
    if (job) {
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      await job.remove();
    }
    await queue.add(needed.name, { runId: run.id }, { jobId: needed.jobId, ...(needed.delayMs && { delay: needed.delayMs }) });
    requeued++;
  }
  if (requeued) logger.info({ requeued }, 'put unfinished runs back on the queue');
  return requeued;
}
