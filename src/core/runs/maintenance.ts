import type { EntityManager } from '@mikro-orm/postgresql';
import type { DeployRun, RunSummary } from './model.js';
import { neededJob, type NeededJob } from './recovery.js';
import { pruneDeliveries, pruneEventsOfFinishedRuns, runsBehindInChat, runsBehindInNotify, unfinishedRuns } from './store.js';

/**
 * What the sweeps in src/jobs ask of the run module: which open runs need a job, which chat
 * views are behind, and pruning past retention. The decisions are here; the jobs only look at
 * the queue and put jobs back.
 */

/**
 * How long a run must be unchanged before a sweep may decide it has no job. Intake (and every
 * step that schedules a next phase) commits first and adds the job right after: a sweep that
 * looked in between would replace the job being added (and, had a worker taken it already,
 * run the work twice).
 */
export const REQUEUE_SETTLE_MS = 2000;

export async function openRunsNeedingJobs(em: EntityManager, approvalTimeoutMs: (run: DeployRun) => number | undefined): Promise<Array<{ run: RunSummary; needed: NeededJob }>> {
  const runs = await unfinishedRuns(em, ['story', 'docs', 'deploy'], REQUEUE_SETTLE_MS);
  return runs.flatMap((run) => {
    const needed = neededJob(run, approvalTimeoutMs);
    return needed ? [{ run, needed }] : [];
  });
}

export function chatViewsBehind(em: EntityManager, olderThanMs: number): Promise<Array<{ id: number; lastSeq: number }>> {
  return runsBehindInChat(em, olderThanMs);
}

export function notificationsBehind(em: EntityManager, olderThanMs: number): Promise<Array<{ id: number; lastSeq: number }>> {
  return runsBehindInNotify(em, olderThanMs);
}

export async function pruneRetained(em: EntityManager, opts: { deliveryRetentionMs: number; eventRetentionMs: number }): Promise<{ deliveries: number; events: number }> {
  const deliveries = await pruneDeliveries(em, new Date(Date.now() - opts.deliveryRetentionMs));
  const events = opts.eventRetentionMs > 0 ? await pruneEventsOfFinishedRuns(em, new Date(Date.now() - opts.eventRetentionMs)) : 0;
  return { deliveries, events };
}
