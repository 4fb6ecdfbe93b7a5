import type { Actor, CoreContext } from '../context.js';
import type { ProjectConfig } from '../config.js';
import { ConflictError, PermanentFailure, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { authorize } from '../access/authorize.js';
import { getRun } from '../runs/store.js';
import { step } from '../runs/advance.js';
import type { CreatedRun } from '../runs/intake.js';
import type { DeployRun } from '../runs/model.js';
import { approvalNotes, beforeDeploy, formatTime, joinQueue, overrideHint, refusalText, requestRefusals, type Place } from '../safety/index.js';
import { projectFor } from './policy.js';
import type { DeployRequest, Next } from './service.js';
import type { EnvironmentPolicy } from '../config.js';

/**
 * Where the deploy workflow meets deploy safety (core/safety, docs/deploy-safety.md): refusals
 * when a deploy is asked for, the run's place in its environment's queue, and the hold just
 * before GitHub is asked to deploy.
 */

export type Placed = CreatedRun & { place?: Place };

const MAX_REASON = 500;

/**
 * Refuses a deploy that a lock, a freeze or a branch rule stops, in words that say until when
 * and who can override. With `--override "reason"` an admin goes past them, and it is audited.
 */
export async function checkRequestSafety(ctx: CoreContext, actor: Actor, project: ProjectConfig & { repo: string }, input: DeployRequest): Promise<{ by: string; reason: string } | undefined> {
  const environment = input.environment;
  let override: { by: string; reason: string } | undefined;
  if (input.override !== undefined) {
    const reason = input.override.trim();
    if (!reason) throw new ValidationError('Say why with the override: --override "reason".');
    if (reason.length > MAX_REASON) throw new ValidationError(`The override's reason is ${reason.length} characters; the limit is ${MAX_REASON}.`);
    await authorize(ctx, actor, 'deploy.override', { project: project.key, environment });
    override = { by: actor.id, reason };
  }
  const refusals = await requestRefusals(ctx, actor, project, environment, { ref: input.ref, trigger: input.pinned?.trigger });
  if (override) {
    await audit(ctx, { actor: actor.id, action: 'deploy.override', target: `${project.key}/${environment}`, source: actor.channel ?? actor.platform, data: { reason: override.reason, overrode: refusals } });
    return override;
  }
  if (refusals.length) {
    await audit(ctx, { actor: actor.id, action: 'deploy.refused', target: `${project.key}/${environment}`, source: actor.channel ?? actor.platform, data: { reasons: refusals } });
    throw new ConflictError(refusalText(environment, refusals));
  }
  return undefined;
}

/** Puts a new run in its environment's queue; a rollback that cannot wait is refused with its reason. */
export async function takePlace(ctx: CoreContext, _actor: Actor, created: CreatedRun, repo: string): Promise<Placed> {
  if (created.duplicate) return created;
  const run = created.run as DeployRun;
  const place = await joinQueue(ctx, run, repo);
  if (place.place === 'refused') throw new ConflictError(`Not rolled back (${run.ref}): ${place.reason}`);
  const now = await getRun(ctx.em, run.id);
  // A worker may have placed the run before this request did (the job starts at intake): its outcome is the answer.
  if (place.place === 'finished' && now.status === 'failed' && now.stage === 'queue') throw new ConflictError(`Not rolled back (${run.ref}): ${now.error ?? 'the environment is busy'}`);
  return { ...created, run: now, place };
}

interface Held {
  ctx: CoreContext;
  run: DeployRun;
  policy: EnvironmentPolicy;
}

/**
 * Just before the deployment: waits (a delayed job, no worker held) while a lock, freeze, soak
 * or wait timer holds the run back and ends before its deadline; refuses when it ends after.
 */
export async function holdBeforeDeploy({ ctx, run, policy }: Held): Promise<Next | undefined> {
  const project = projectFor(ctx, run.projectKey) as ProjectConfig & { repo: string };
  const readyAt = readyAtOf(run);
  const hold = await beforeDeploy(ctx, run, project, policy, readyAt);
  if (hold.go) return undefined;
  const zone = project.time_zone;
  const env = run.input.environment;
  if (hold.late) {
    await audit(ctx, { actor: 'autodevhub', action: 'deploy.held_past_deadline', target: run.ref, data: { why: hold.why, until: hold.until ?? null, deadline: new Date(hold.deadline).toISOString() } });
    const until = hold.until ? `; ask again after ${formatTime(hold.until, zone)}` : '';
    throw new PermanentFailure(`Not deployed: ${hold.why}, which lasts past this run's deadline (${formatTime(hold.deadline, zone)})${until}, or ${overrideHint(env)}.`);
  }
  const untilIso = hold.until ? new Date(hold.until).toISOString() : null;
  if (run.stage !== 'wait' || run.result.waitUntil !== untilIso) {
    await step(ctx, run.id, {
      status: 'running',
      stage: 'wait',
      progress: 55,
      message: `Ready to deploy, waiting: ${hold.why}. Deploys ${hold.until ? `at ${formatTime(hold.until, zone)}` : 'as soon as that ends'}, if before ${formatTime(hold.deadline, zone)}`,
      result: { waitUntil: untilIso, waitingFor: hold.why },
      data: { wait: { until: untilIso, why: hold.why, deadline: new Date(hold.deadline).toISOString() } },
    });
  }
  // Looked at again at least every minute: a lock may be released early.
  const left = hold.until ? hold.until - Date.now() : 60_000;
  return { next: 'poll', delayMs: Math.min(60_000, Math.max(1000, left)) };
}

/** When the run was ready to deploy: approved (the last approval), or through the gate when it needs none. */
function readyAtOf(run: DeployRun): number {
  const approved = run.result.approvals?.decisions.filter((d) => d.decision === 'approve').map((d) => Date.parse(d.at)) ?? [];
  if (approved.length) return Math.max(...approved);
  return Date.parse(run.result.readyAt ?? run.result.gateStartedAt ?? run.createdAt);
}

/** The approval card's lines about soak time, the wait timer and an override. */
export async function safetyNotes(ctx: CoreContext, run: DeployRun, policy: EnvironmentPolicy): Promise<string[]> {
  const project = projectFor(ctx, run.projectKey) as ProjectConfig & { repo: string };
  return approvalNotes(ctx, run, project, policy);
}
