import { exportsOfStory, type ExportRecord } from '../exports/store.js';
import type { Actor, CoreContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import { eventsAfter, findRun, listRuns, type ListRunsFilter } from '../runs/store.js';
import { findStoryByRun, searchStories, type ListedStory, type StorySearch, type StoryRecord } from '../stories/store.js';
import { latestDeployments, type LiveDeployment } from '../deploys/store.js';
import type { RunEventMessage, RunSummary } from '../runs/model.js';
import { authorize, can, requireScope } from './authorize.js';
import { principalOf, roleOn } from './principal.js';

/**
 * Reads, as a given person may see them: the runs of projects they hold a role on (a chat channel
 * counts for its own project), their own runs, and everything for admins.
 */

type Ctx = Pick<CoreContext, 'em' | 'config' | 'logger'>;

/** Project keys the actor may read; undefined: all of them (admins). */
export async function readableProjects(ctx: Ctx, actor: Actor): Promise<string[] | undefined> {
  requireScope(actor, 'project.read');
  const principal = await principalOf(ctx, actor);
  if (principal.admin) return undefined;
  return ctx.config.projects.map((p) => p.key).filter((key) => roleOn(principal, key));
}

/** Newest first, `limit` at most; `beforeId` continues a page. */
export async function readableRuns(ctx: Ctx, actor: Actor, filter: ListRunsFilter): Promise<RunSummary[]> {
  requireScope(actor, 'run.read');
  const principal = await principalOf(ctx, actor);
  if (principal.admin) return listRuns(ctx.em, filter);
  const projects = await readableProjects(ctx, actor);
  const limit = filter.limit ?? 20;
  const allowed = filter.projectKey ? projects!.filter((p) => p === filter.projectKey) : projects!;
  const [theirs, own] = await Promise.all([
    allowed.length ? listRuns(ctx.em, { ...filter, projectKey: undefined, projectKeys: allowed }) : Promise.resolve([]),
    listRuns(ctx.em, { ...filter, requestedByAny: principal.handles }),
  ]);
  const byId = new Map([...theirs, ...own].map((r) => [r.id, r]));
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, limit);
}

export async function readableRun(ctx: Ctx, actor: Actor, ref: string | number): Promise<RunSummary> {
  const run = typeof ref === 'number' ? await findRun(ctx.em, ref) : /^R-?\d{1,9}$/i.test(ref) ? await findRun(ctx.em, ref) : undefined;
  if (!run) throw new NotFoundError(`There is no run ${String(ref).slice(0, 40)}; runs are named like R-1042.`);
  // An approver may see the deploys they may decide, whatever their role in the project.
  if (await approverOf(ctx, actor, run)) return run;
  await authorize(ctx, actor, 'run.read', { run });
  return run;
}

/** The actor is a named approver of the environment this deploy goes to, and may read. */
async function approverOf(ctx: Ctx, actor: Actor, run: RunSummary): Promise<boolean> {
  if (run.kind !== 'deploy' || (actor.scopes && !actor.scopes.includes('read'))) return false;
  const decision = await can(ctx, actor, 'deploy.approve', { run, environment: run.input.environment });
  return decision.allowed && decision.via === 'approver';
}

export async function readableRunDetail(ctx: Ctx, actor: Actor, ref: string): Promise<{ run: RunSummary; events: RunEventMessage[]; story: StoryRecord | null; exports: ExportRecord[] }> {
  const run = await readableRun(ctx, actor, ref);
  const [events, story] = await Promise.all([eventsAfter(ctx.em, run, 0), findStoryByRun(ctx.em, run.id)]);
  // The story's issues and pull requests come with it.
  const exports = story ? await exportsOfStory(ctx.em, story.id) : [];
  return { run, events, story: story ?? null, exports };
}

export async function readableEvents(ctx: Ctx, actor: Actor, ref: string, afterSeq: number): Promise<RunEventMessage[]> {
  const run = await readableRun(ctx, actor, ref);
  return eventsAfter(ctx.em, run, afterSeq);
}

/** Filters runs down to those the actor may read (a channel's recent runs in chat). */
export async function filterReadable(ctx: Ctx, actor: Actor, runs: RunSummary[]): Promise<RunSummary[]> {
  const decisions = await Promise.all(runs.map((run) => can(ctx, actor, 'run.read', { run })));
  return runs.filter((_, i) => decisions[i]!.allowed);
}

/** The story library as the actor may see it: their projects' stories and their own. */
export async function readableStories(ctx: Ctx, actor: Actor, q: Omit<StorySearch, 'projectKeys' | 'ownHandles'>): Promise<ListedStory[]> {
  requireScope(actor, 'run.read');
  const principal = await principalOf(ctx, actor);
  const projectKeys = await readableProjects(ctx, actor);
  return searchStories(ctx.em, { ...q, projectKeys, ownHandles: principal.handles });
}

/** What runs where in a project the actor may read: each environment's latest deployment. */
export async function liveDeployments(ctx: Ctx, actor: Actor, projectKey: string): Promise<LiveDeployment[]> {
  await authorize(ctx, actor, 'project.read', { project: projectKey });
  const repo = ctx.config.projects.find((p) => p.key === projectKey)?.repo;
  return repo ? latestDeployments(ctx.em, repo) : [];
}

/** Deploys waiting for a decision the actor may take (the same check the approve verb makes first). */
export async function decidableApprovals(ctx: Ctx, actor: Actor): Promise<RunSummary[]> {
  requireScope(actor, 'run.read');
  // Every waiting deploy, not only those of the actor's projects: an approver needs no role there.
  const waiting = await listRuns(ctx.em, { status: 'waiting_approval', kind: 'deploy', limit: 200 });
  const decisions = await Promise.all(waiting.map((run) => can(ctx, actor, 'deploy.approve', { run, environment: run.kind === 'deploy' ? run.input.environment : undefined })));
  return waiting.filter((_, i) => decisions[i]!.allowed);
}

export type { ListedStory, LiveDeployment };
