import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError } from '../errors.js';
import { findStoryByRun, type StoryRecord } from '../stories/store.js';
import { exportsOfStory, type ExportRecord } from '../exports/store.js';
import { eventsAfter, findRun, listRuns, waitingApprovals, type ListRunsFilter } from './store.js';
import type { RunEventMessage, RunSummary } from './model.js';

/**
 * Reads of runs for the surfaces (API, console, sockets, chat handlers): they call these, never
 * the store.
 */

export type { ListRunsFilter } from './store.js';

const RUN_REF = /^R-?\d{1,9}$/i;

/** A run by reference as a person types it ("R-1042", "r1042"); undefined for anything else. */
export async function findRunByRef(em: EntityManager, ref: string): Promise<RunSummary | undefined> {
  return RUN_REF.test(ref) ? findRun(em, ref) : undefined;
}

export async function findRunById(em: EntityManager, id: number): Promise<RunSummary | undefined> {
  return findRun(em, id);
}

export async function runDetail(em: EntityManager, ref: string): Promise<{ run: RunSummary; events: RunEventMessage[]; story: StoryRecord | null; exports: ExportRecord[] }> {
  const run = await findRunByRef(em, ref);
  if (!run) throw new NotFoundError(`There is no run ${ref.slice(0, 40)}; runs are named like R-1042.`);
  const [events, story] = await Promise.all([eventsAfter(em, run, 0), findStoryByRun(em, run.id)]);
  // A story's issue and pull request are the run's links too (the run itself has finished).
  const exports = story ? await exportsOfStory(em, story.id) : [];
  return { run, events, story: story ?? null, exports };
}

export function recentRuns(em: EntityManager, filter: ListRunsFilter): Promise<RunSummary[]> {
  return listRuns(em, filter);
}

/** What a reconnecting client missed: the run's events after `afterSeq`, in order. */
export function missedEvents(em: EntityManager, run: RunSummary, afterSeq: number): Promise<RunEventMessage[]> {
  return eventsAfter(em, run, afterSeq);
}

/** Deploys waiting for approval and how long the oldest has waited (for metrics). */
export async function approvalsWaiting(em: EntityManager): Promise<{ count: number; oldestSeconds: number }> {
  const { count, oldestSince } = await waitingApprovals(em);
  return { count, oldestSeconds: oldestSince ? Math.max(0, (Date.now() - oldestSince.getTime()) / 1000) : 0 };
}
