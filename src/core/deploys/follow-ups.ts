import type { Actor, CoreContext } from '../context.js';
import type { ProjectConfig } from '../config.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { getRun, chatState } from '../runs/store.js';
import type { CreatedRun } from '../runs/intake.js';
import { OPEN_STATUSES, type DeployRun, type RunStatus } from '../runs/model.js';
import { resolveProject } from '../projects/service.js';
import { nextEnvironment, policyFor, projectFor } from './policy.js';
import { currentDeployment, lastGoodDeployment, openOrDoneFollowUps, succeededIn } from './store.js';
import { requestDeploy, requiresRefusal } from './service.js';
import { authorize } from '../access/authorize.js';
import { busySlot, rollbackBusyText } from '../safety/index.js';

/**
 * Deploys that follow from earlier ones: a promotion (the very same commit, one environment on
 * in the project's pipeline) and a rollback (the last commit that succeeded in an environment
 * before the current one). Both are ordinary deploy runs with the commit fixed, through the
 * target environment's gate and approvals. A double click or a retry makes one run: the delivery
 * key names what is followed up and how many earlier attempts failed, so two requests racing for
 * the same follow-up write the same key and Postgres keeps one.
 */

type Followed = { ref: string; status: string };
const live = (f: Followed) => OPEN_STATUSES.includes(f.status as RunStatus) || f.status === 'succeeded';

async function existingOrKey(ctx: CoreContext, kind: 'promotedFrom' | 'rollbackOf', ref: string, environment: string): Promise<{ existing: CreatedRun } | { key: string }> {
  const earlier = await openOrDoneFollowUps(ctx.em, kind, ref, environment);
  const going = earlier.find(live);
  if (going) return { existing: { run: await getRun(ctx.em, going.ref), duplicate: true, queued: true } };
  return { key: `${kind === 'promotedFrom' ? 'promote' : 'rollback'}:${ref}:${environment}#${earlier.length}` };
}

export interface FollowUpInput {
  deliveryId?: string;
  /** An admin's `--override "reason"` (docs/deploy-safety.md). */
  override?: string;
  chatRefs?: Record<string, string>;
}

/** `promote R-1042`, or the Promote button on a succeeded deploy. */
export async function requestPromotion({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: FollowUpInput & { run: string }): Promise<CreatedRun & { environment: string }> {
  const source = await getRun(ctx.em, input.run);
  if (source.kind !== 'deploy') throw new ValidationError(`${source.ref} is not a deploy; only deploys can be promoted.`);
  if (source.status !== 'succeeded' || !source.result.sha) throw new ConflictError(`${source.ref} has not succeeded (it is ${source.status.replace('_', ' ')}); only a successful deploy can be promoted.`);
  const project = projectFor(ctx, source.projectKey);
  if (!project?.repo) throw new ConflictError(`${source.ref}'s project is no longer configured.`);
  const next = nextEnvironment(project, source.input.environment);
  if (!next) {
    throw new ValidationError(
      project.promotion.length
        ? `${source.input.environment} is the last step of ${project.key}'s promotion pipeline (${project.promotion.join(' → ')}).`
        : `${project.key} has no promotion pipeline: add "promotion: [staging, production]" to it in autodevhub.yaml.`,
    );
  }
  // Deploy-like, per environment: a promotion is authorised for where it goes.
  await authorize(ctx, actor, 'deploy.promote', { project: project.key, environment: next });
  const sha = source.result.sha;
  const requires = policyFor(project, next).requires;
  if (requires && !(await succeededIn(ctx.em, project.repo, requires, sha))) throw new ValidationError(requiresRefusal(next, requires, sha));
  const found = await existingOrKey(ctx, 'promotedFrom', source.ref, next);
  if ('existing' in found) return { ...found.existing, environment: next };
  const created = await requestDeploy(
    { ctx, actor },
    {
      environment: next,
      ref: source.result.ref ?? sha,
      deliveryId: found.key,
      ...(input.chatRefs && { chatRefs: input.chatRefs }),
      ...(input.override !== undefined && { override: input.override }),
      pinned: { sha, trigger: 'promote', promotedFrom: source.ref, projectKey: project.key, description: `Promote ${project.repo} ${sha.slice(0, 7)} from ${source.input.environment} (${source.ref}) to ${next}` },
    },
  );
  return { ...created, environment: next };
}

export interface RollbackPlan {
  project: ProjectConfig & { repo: string };
  environment: string;
  current: { runRef: string; sha: string };
  target: { runRef: string; sha: string };
}

/** What a rollback of the environment would do, or why there is nothing to do. */
export async function planRollback(ctx: CoreContext, project: ProjectConfig & { repo: string }, environment: string, opts: { allowOpen?: string } = {}): Promise<RollbackPlan> {
  if (!project.environments[environment]) throw new ValidationError(`${project.repo} has no environment "${environment}". Valid: ${Object.keys(project.environments).join(', ')}.`);
  const current = await currentDeployment(ctx.em, project.repo, environment);
  if (!current) throw new ConflictError(`Nothing has been deployed to ${environment} by AutoDevHub; there is nothing to roll back.`);
  if (OPEN_STATUSES.includes(current.runStatus as RunStatus) && current.runRef !== opts.allowOpen) {
    throw new ConflictError(`${current.runRef} is still deploying to ${environment}; wait for it to finish before rolling back.`);
  }
  // A run waiting for approval has no deployment yet; the environment's queue knows it (issue 22, item 3).
  const busy = opts.allowOpen ? undefined : await busySlot(ctx, project.repo, environment);
  // …unless what keeps it busy is this very rollback, asked again: that run is the answer (submitRollback finds it).
  if (busy && !(await openOrDoneFollowUps(ctx.em, 'rollbackOf', current.runRef, environment)).some((f) => f.ref === busy.ref)) throw new ConflictError(rollbackBusyText(busy, environment));
  const target = await lastGoodDeployment(ctx.em, project.repo, environment, current.sha);
  if (!target) throw new ConflictError(`No earlier commit succeeded in ${environment}; there is nothing to roll back to.`);
  return { project, environment, current: { runRef: current.runRef, sha: current.sha }, target: { runRef: target.runRef, sha: target.sha } };
}

async function submitRollback(ctx: CoreContext, actor: Actor, plan: RollbackPlan, opts: FollowUpInput & { trigger: 'rollback' | 'auto_rollback'; threadTs?: string }): Promise<CreatedRun> {
  const found = await existingOrKey(ctx, 'rollbackOf', plan.current.runRef, plan.environment);
  if ('existing' in found) return found.existing;
  const { project, environment, current, target } = plan;
  return requestDeploy(
    { ctx, actor },
    {
      environment,
      deliveryId: found.key,
      ...(opts.chatRefs && { chatRefs: opts.chatRefs }),
      ...(opts.override !== undefined && { override: opts.override }),
      pinned: {
        sha: target.sha,
        trigger: opts.trigger,
        rollbackOf: current.runRef,
        rollbackFromSha: current.sha,
        projectKey: project.key,
        ...(opts.threadTs && { threadTs: opts.threadTs }),
        description: `Roll back ${project.repo} ${environment} from ${current.sha.slice(0, 7)} (${current.runRef}) to ${target.sha.slice(0, 7)} (${target.runRef})`,
      },
    },
  );
}

/** `rollback <environment> [project]`: the project by key or repository, else the channel's. */
export async function requestRollback({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: FollowUpInput & { environment: string; project?: string }): Promise<CreatedRun> {
  const byKey = input.project && !input.project.includes('/') ? ctx.config.projects.find((p) => p.key === input.project) : undefined;
  if (input.project && !input.project.includes('/') && !byKey) throw new NotFoundError(`There is no project "${input.project}".`);
  const project = byKey?.repo ? (byKey as ProjectConfig & { repo: string }) : await resolveProject(ctx, actor, input.project, 'rollback production acme/web');
  await authorize(ctx, actor, 'deploy.rollback', { project: project.key, environment: input.environment });
  return submitRollback(ctx, actor, await planRollback(ctx, project, input.environment), { ...input, trigger: 'rollback' });
}

/** The Roll back button on a failed deploy: its environment, rolled back. */
export async function requestRollbackOfRun({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: FollowUpInput & { run: string }): Promise<CreatedRun> {
  const run = await getRun(ctx.em, input.run);
  if (run.kind !== 'deploy') throw new ValidationError(`${run.ref} is not a deploy.`);
  const project = projectFor(ctx, run.projectKey);
  if (!project?.repo) throw new ConflictError(`${run.ref}'s project is no longer configured.`);
  await authorize(ctx, actor, 'deploy.rollback', { project: project.key, environment: run.input.environment });
  return submitRollback(ctx, actor, await planRollback(ctx, project as ProjectConfig & { repo: string }, run.input.environment), { ...input, trigger: 'rollback' });
}

/**
 * A failed verification rolls back by itself (`auto_rollback`): as the failed run's requester, in
 * its channel and thread. Returns the rollback run, or why there is none (nothing earlier succeeded).
 */
export async function autoRollback(ctx: CoreContext, run: DeployRun): Promise<{ ref: string; sha: string } | { refused: string }> {
  const project = projectFor(ctx, run.projectKey);
  if (!project?.repo) return { refused: 'the project is no longer configured' };
  let plan: RollbackPlan;
  try {
    plan = await planRollback(ctx, project as ProjectConfig & { repo: string }, run.input.environment, { allowOpen: run.ref });
  } catch (err) {
    if (err instanceof ConflictError || err instanceof ValidationError) return { refused: err.message };
    throw err;
  }
  const refs = (await chatState(ctx.em, run.id)).refs;
  const threadTs = run.threadRef?.startsWith('slack:') ? run.threadRef.split(':')[2] : undefined;
  const actor: Actor = { id: run.requestedBy, platform: run.sourcePlatform, channel: run.channel };
  const created = await submitRollback(ctx, actor, plan, { trigger: 'auto_rollback', ...(refs.teams_ref && { chatRefs: { teams_ref: refs.teams_ref } }), ...(threadTs && { threadTs }) });
  return { ref: created.run.ref, sha: plan.target.sha };
}
