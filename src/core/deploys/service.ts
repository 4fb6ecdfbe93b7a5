import type { Actor, CoreContext } from '../context.js';
import type { EnvironmentPolicy, ProjectConfig } from '../config.js';
import { policyFor, projectFor } from './policy.js';
import { runSmokeCheck, verificationFailure } from './smoke.js';
import { summariseChanges } from './summary.js';
import { autoRollback } from './follow-ups.js';
import { PermanentFailure, NotConfiguredError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { getRun } from '../runs/store.js';
import { step } from '../runs/advance.js';
import { deliveryOf, type CreatedRun } from '../runs/intake.js';
import { isFinal, type DeployRun } from '../runs/model.js';
import { resolveProject } from '../projects/service.js';
import { authorize } from '../access/authorize.js';
import type { CheckItem } from '../github/client.js';
import { approvalState } from './approvals.js';
import { joinQueue, overrideHint, refAllowed } from '../safety/index.js';
import { recordDeployment, succeededIn, updateDeploymentState } from './store.js';
import { checkRequestSafety, holdBeforeDeploy, safetyNotes, takePlace, type Placed } from './safety.js';

export { approvalFor, approvalState, cancellable, decideApproval, expireApproval, type Decision } from './approvals.js';

/**
 * The deploy workflow: resolve → gate → approval → deploy → verify. Each stage is resumable from
 * what Postgres holds (the run's stage and result), so a job retried after a crash continues
 * where the run is. Waiting (for checks, for a deployment's statuses) is a delayed job, and
 * waiting for people holds no job at all.
 */

export interface DeployRequest {
  repo?: string;
  environment: string;
  ref?: string;
  deliveryId: string;
  requestHash?: string;
  chatRefs?: Record<string, string>;
  /** A promotion or rollback: the commit is fixed, and where it came from is kept with the run. */
  /** `--override "reason"`: an admin deploys past locks, freezes, branch rules, soak and wait timers. */
  override?: string;
  pinned?: { sha: string; trigger: 'promote' | 'rollback' | 'auto_rollback'; promotedFrom?: string; rollbackOf?: string; rollbackFromSha?: string; threadTs?: string; description: string; projectKey: string };
}

/** What the worker should do next with a deploy job. */
export type Next = { next: 'continue' } | { next: 'poll'; delayMs: number } | { next: 'wait_approval'; timeoutMs: number } | { next: 'done' };

/** Ingress verb: checks what can be checked without GitHub, then queues the run. */
export async function requestDeploy({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: DeployRequest): Promise<Placed> {
  const project = input.pinned ? (projectFor(ctx, input.pinned.projectKey) as ProjectConfig & { repo: string }) : await resolveProject(ctx, actor, input.repo, 'deploy acme/web production');
  // Who may deploy is decided before anything about the project's environments is said. A
  // promotion or rollback is authorised by its own action before it comes here.
  if (!input.pinned) await authorize(ctx, actor, 'deploy.create', { project: project.key, environment: input.environment });
  // An override is an admin's, whatever else is configured or not.
  if (input.override !== undefined) await authorize(ctx, actor, 'deploy.override', { project: project.key, environment: input.environment });
  if (!ctx.github) throw new NotConfiguredError('Deploys need GitHub: set GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise).');
  const environments = Object.keys(project.environments);
  if (!project.environments[input.environment]) {
    throw new ValidationError(
      environments.length
        ? `${project.repo} has no environment "${input.environment}". Valid: ${environments.join(', ')}.`
        : `${project.repo} has no environments configured in autodevhub.yaml.`,
    );
  }
  const override = await checkRequestSafety(ctx, actor, project, input);
  const created = await ctx.intake.submit({
    kind: 'deploy',
    requestedBy: actor.id,
    sourcePlatform: actor.platform,
    channel: actor.channel ?? null,
    projectKey: project.key,
    input: { ...deployInput(project.repo, input), ...(override && { override }) },
    // Follow-ups are keyed by what they follow, whoever asks from wherever: one run for both clicks.
    delivery: input.pinned ? { platform: 'autodevhub', id: input.deliveryId, ...(input.requestHash && { requestHash: input.requestHash }) } : deliveryOf(actor, input),
    message: input.pinned ? `Queued: ${input.pinned.description}` : `Queued: deploy ${project.repo}${input.ref ? ` ${input.ref}` : ''} to ${input.environment}`,
    ...(input.chatRefs && { chatRefs: input.chatRefs }),
  });
  if (!created.duplicate) {
    const action = input.pinned ? `deploy.${input.pinned.trigger === 'promote' ? 'promotion' : 'rollback'}_requested` : 'deploy.requested';
    await audit(ctx, { actor: actor.id, action, target: created.run.ref, source: actor.channel ?? actor.platform, data: { repo: project.repo, environment: input.environment, ref: input.ref ?? null, ...(input.pinned && { sha: input.pinned.sha, trigger: input.pinned.trigger, from: input.pinned.promotedFrom ?? input.pinned.rollbackOf }) } });
  }
  return takePlace(ctx, actor, created, project.repo);
}

function deployInput(repo: string, input: DeployRequest): Record<string, unknown> {
  const p = input.pinned;
  if (!p) return { repo, environment: input.environment, ...(input.ref && { ref: input.ref }), trigger: 'command', description: `Deploy ${repo} to ${input.environment}${input.ref ? ` at ${input.ref}` : ''}` };
  return {
    repo,
    environment: input.environment,
    ref: input.ref ?? p.sha,
    sha: p.sha,
    trigger: p.trigger,
    description: p.description,
    ...(p.promotedFrom && { promotedFrom: p.promotedFrom }),
    ...(p.rollbackOf && { rollbackOf: p.rollbackOf, rollbackFromSha: p.rollbackFromSha }),
    ...(p.threadTs && { threadTs: p.threadTs }),
  };
}

/** Why a deploy that skips the environment before it is refused. */
export function requiresRefusal(environment: string, requires: string, sha: string): string {
  return `${environment} only takes commits that have succeeded in ${requires}, and ${sha.slice(0, 7)} has not. Deploy it to ${requires} first, then promote that run.`;
}

function checkList(items: CheckItem[]): string {
  return items.map((c) => (c.url ? `${c.name} (${c.url})` : c.name)).join(', ');
}

/** Exponential backoff for polling, capped at 60 s: with the default base, 5 s, 10 s, 20 s, 40 s, 60 s … */
export function pollDelay(attempt: number, baseMs = 5000): number {
  return Math.min(60_000, baseMs * 2 ** Math.max(0, attempt));
}

interface StageArgs {
  ctx: CoreContext;
  run: DeployRun;
  policy: EnvironmentPolicy;
  repo: string;
  attempt: number;
}

/** Worker verb: one step of a deploy run from wherever it stands. */
export async function advanceDeploy({ ctx, runId, attempt = 0 }: { ctx: CoreContext; runId: number; attempt?: number }): Promise<Next> {
  if (!ctx.github) throw new PermanentFailure('GitHub is not configured on this worker: set GITHUB_TOKEN.');
  const run = (await getRun(ctx.em, runId)) as DeployRun;
  if (isFinal(run.status) || run.status === 'waiting_approval') return { next: 'done' };
  const project = projectFor(ctx, run.projectKey);
  if (!project?.repo) throw new PermanentFailure(`Project ${run.projectKey} is no longer configured.`);
  // One deploy at a time per environment: a run that does not have its environment stops here.
  if ((await joinQueue(ctx, run, project.repo)).place !== 'active') return { next: 'done' };
  const args: StageArgs = { ctx, run, policy: policyFor(project, run.input.environment, run), repo: project.repo, attempt };
  const stage = run.stage === 'queued' || run.stage === 'queue' ? 'resolve' : run.stage === 'wait' ? 'deploy' : run.stage;
  switch (stage) {
    case 'resolve':
      return resolveStage(args);
    case 'gate':
      return gateStage(args);
    case 'approval':
      // Approved: decideApproval moved the run on to "deploy" already; nothing to do here.
      return { next: 'done' };
    case 'deploy':
      return deployStage(args);
    case 'verify':
      return verifyStage(args);
    default:
      throw new PermanentFailure(`Deploy run ${run.ref} is in an unknown stage "${stage}".`);
  }
}

async function resolveStage({ ctx, run, repo, policy }: StageArgs): Promise<Next> {
  const resolved = await ctx.github!.resolveRef(repo, run.input.sha ?? run.input.ref);
  if (run.input.sha) resolved.ref = run.input.ref ?? run.input.sha;
  // A rollback goes back to a commit that already ran here; promotion order does not apply.
  const rollback = run.input.trigger === 'rollback' || run.input.trigger === 'auto_rollback';
  if (!rollback && !run.input.override && !refAllowed(policy.refs, resolved.ref)) {
    throw new PermanentFailure(`${run.input.environment} takes only ${policy.refs.join(', ')}, and ${resolved.ref} is none of them; ${overrideHint(run.input.environment)}.`);
  }
  if (policy.requires && !rollback && !(await succeededIn(ctx.em, repo, policy.requires, resolved.sha))) {
    await audit(ctx, { actor: 'autodevhub', action: 'deploy.requires_refused', target: run.ref, data: { sha: resolved.sha, requires: policy.requires } });
    throw new PermanentFailure(requiresRefusal(run.input.environment, policy.requires, resolved.sha));
  }
  await transaction(ctx, async (tx) => {
    await step(tx, run.id, {
      status: 'running',
      stage: 'gate',
      progress: 20,
      message: `${resolved.ref} is ${resolved.sha.slice(0, 7)}; checking its checks`,
      result: { sha: resolved.sha, ref: resolved.ref, commitUrl: resolved.url, gateStartedAt: new Date().toISOString() },
    });
    await audit(tx, { actor: 'autodevhub', action: 'deploy.resolved', target: run.ref, data: { ref: resolved.ref, sha: resolved.sha } });
  });
  return { next: 'continue' };
}

async function gateStage({ ctx, run, policy, repo, attempt }: StageArgs): Promise<Next> {
  const report = await ctx.github!.gate(repo, String(run.result.sha), policy.required_checks);
  if (report.state === 'failure') {
    await audit(ctx, { actor: 'autodevhub', action: 'deploy.gate_failed', target: run.ref, data: { failing: report.failing } });
    throw new PermanentFailure(`Quality gate failed: ${checkList(report.failing)}`);
  }
  if (report.state === 'pending') {
    const waited = Date.now() - Date.parse(run.result.gateStartedAt ?? run.createdAt);
    const waitingFor = [...report.pending.map((c) => c.name), ...report.missing.map((m) => `${m} (not reported yet)`)];
    if (waited > policy.gate_timeout) {
      await audit(ctx, { actor: 'autodevhub', action: 'deploy.gate_timeout', target: run.ref, data: { pending: waitingFor } });
      throw new PermanentFailure(`Quality gate timed out after ${Math.round(waited / 60_000)} min waiting for: ${waitingFor.join(', ')}`);
    }
    await step(ctx, run.id, { message: `Waiting for checks: ${waitingFor.join(', ')}` });
    return { next: 'poll', delayMs: pollDelay(attempt, ctx.config.deployPollBaseMs) };
  }
  if (policy.required_approvals === 0) {
    await transaction(ctx, async (tx) => {
      await audit(tx, { actor: 'autodevhub', action: 'deploy.gate_passed', target: run.ref, data: { passing: report.passing.map((c) => c.name) } });
      await step(tx, run.id, { stage: 'deploy', progress: 60, message: 'Checks green; no approval needed. Deploying', result: { readyAt: new Date().toISOString() } });
    });
    return { next: 'continue' };
  }
  // What changes, for the approvers: computed once, kept with the run (a retry reuses it).
  const changes = run.result.changes ?? (await summariseChanges(ctx, run, repo));
  const requestedAt = new Date().toISOString();
  const state = await approvalState(ctx, { ...run, result: { ...run.result, approvalRequestedAt: requestedAt } }, policy);
  const who = policy.approvers.length ? policy.approvers.join(', ') : 'an admin';
  const notes = await safetyNotes(ctx, { ...run, result: { ...run.result } }, policy);
  await transaction(ctx, async (tx) => {
    await audit(tx, { actor: 'autodevhub', action: 'deploy.gate_passed', target: run.ref, data: { passing: report.passing.map((c) => c.name) } });
    await step(tx, run.id, {
      status: 'waiting_approval',
      stage: 'approval',
      progress: 50,
      message: `Checks green. Waiting for ${policy.required_approvals} approval(s) from ${who}${notes.length ? `. ${notes.join('. ')}` : ''}`,
      result: { approvalRequestedAt: requestedAt, approvals: state, changes },
      data: { approvals: state, changes, ...(notes.length && { safety: notes }) },
      expectStatus: ['running'],
    });
    await audit(tx, { actor: 'autodevhub', action: 'deploy.approval_requested', target: run.ref, data: { approvers: policy.approvers, required: policy.required_approvals } });
  });
  return { next: 'wait_approval', timeoutMs: policy.timeout };
}

async function deployStage(args: StageArgs): Promise<Next> {
  const { ctx, run, repo } = args;
  // Locks, freezes, soak and the wait timer, once more just before GitHub is asked.
  const held = await holdBeforeDeploy(args);
  if (held) return held;
  const github = ctx.github!;
  const sha = String(run.result.sha);
  const environment = run.input.environment;
  // At most one GitHub Deployment per run: the run's reference is in the deployment's
  // payload, so a retry after a crash between "created" and "recorded" finds it.
  let deployment = await github.findDeployment(repo, sha, environment, run.ref);
  if (!deployment) {
    deployment = await github.createDeployment(repo, sha, environment, run.ref, `AutoDevHub ${run.ref} by ${run.requestedBy}`);
    await audit(ctx, { actor: run.requestedBy, action: 'deploy.created', target: run.ref, data: { deploymentId: deployment.id, sha, environment } });
  }
  const deploymentId = deployment.id;
  await transaction(ctx, async (tx) => {
    await recordDeployment(tx.em, { runId: run.id, repo, environment, sha, githubDeploymentId: deploymentId });
    await step(tx, run.id, {
      stage: 'verify',
      progress: 75,
      message: `GitHub deployment ${deploymentId} created; following its status`,
      result: { deploymentId, deployStartedAt: new Date().toISOString() },
    });
  });
  return { next: 'continue' };
}

async function verifyStage(args: StageArgs): Promise<Next> {
  const { ctx, run, policy, repo, attempt } = args;
  const id = Number(run.result.deploymentId);
  const status = await ctx.github!.latestDeploymentStatus(repo, id);
  const url = status?.environmentUrl ?? status?.logUrl ?? null;
  if (status && status.state === 'success') {
    const smoke = policy.smoke_check;
    const verification = smoke
      ? await runSmokeCheck(smoke, status.environmentUrl, { githubStatus: () => ctx.github!.latestDeploymentStatus(repo, id), allowedCidrs: ctx.config.webhooks.allowPrivateCidrs })
      : undefined;
    if (verification && !verification.passed) return verificationFailed(args, verification, { id, url });
    await transaction(ctx, async (tx) => {
      await updateDeploymentState(tx.em, run.id, 'success', { environmentUrl: status.environmentUrl, logUrl: status.logUrl });
      const checked = verification ? `; smoke check passed (${verification.checks.map((c) => c.detail).join('; ')})` : '';
      await step(tx, run.id, {
        status: 'succeeded',
        stage: 'done',
        progress: 100,
        message: `Deployed ${String(run.result.sha).slice(0, 7)} to ${run.input.environment}${url ? `: ${url}` : ''}${checked}`,
        result: { deploymentUrl: url, environmentUrl: status.environmentUrl, logUrl: status.logUrl, ...(verification && { verification }) },
        data: { ...(url && { links: { deployment: url } }), ...(verification && { verification }) },
      });
      await audit(tx, { actor: 'autodevhub', action: 'deploy.succeeded', target: run.ref, data: { deploymentId: id, url, verified: Boolean(verification) } });
    });
    return { next: 'done' };
  }
  if (status && (status.state === 'failure' || status.state === 'error' || status.state === 'inactive')) {
    await transaction(ctx, async (tx) => {
      await updateDeploymentState(tx.em, run.id, status.state, { logUrl: status.logUrl });
      await audit(tx, { actor: 'autodevhub', action: 'deploy.failed', target: run.ref, data: { deploymentId: id, state: status.state, url } });
    });
    throw new PermanentFailure(`The deployment ended in "${status.state}"${url ? `: ${url}` : ''}`);
  }
  const waited = Date.now() - Date.parse(run.result.deployStartedAt ?? run.createdAt);
  if (waited > policy.deploy_timeout) {
    await audit(ctx, { actor: 'autodevhub', action: 'deploy.timeout', target: run.ref, data: { deploymentId: id } });
    throw new PermanentFailure(`No final deployment status from GitHub after ${Math.round(waited / 60_000)} min (last: ${status?.state ?? 'none'}).`);
  }
  await step(ctx, run.id, { message: `Deployment ${status?.state ?? 'pending'}` });
  return { next: 'poll', delayMs: pollDelay(attempt, ctx.config.deployPollBaseMs) };
}

/**
 * GitHub says the deployment succeeded but the smoke check says the service is not healthy: the
 * run fails with what was checked and what came back. With `auto_rollback` the last commit that
 * succeeded here goes back out by itself (a run of its own, in this run's thread), and this run
 * says so. The rollback is requested first: its delivery key makes a retry find the same one.
 */
async function verificationFailed({ ctx, run, policy }: StageArgs, verification: NonNullable<DeployRun['result']['verification']>, d: { id: number; url: string | null }): Promise<Next> {
  const failure = `Smoke check failed: ${verificationFailure(verification)}`;
  await updateDeploymentState(ctx.em, run.id, 'verify_failed', {});
  const rollback = policy.auto_rollback ? await autoRollback(ctx, run) : undefined;
  const then = rollback ? ('ref' in rollback ? `; rolling back to ${rollback.sha.slice(0, 7)} as ${rollback.ref}` : `; no automatic rollback: ${rollback.refused}`) : '';
  await transaction(ctx, async (tx) => {
    await audit(tx, { actor: 'autodevhub', action: 'deploy.verify_failed', target: run.ref, data: { deploymentId: d.id, checks: verification.checks.map((c) => ({ target: c.target, ok: c.ok, detail: c.detail })), rollback: rollback && 'ref' in rollback ? rollback.ref : null } });
    await step(tx, run.id, {
      status: 'failed',
      progress: 100,
      message: `${failure}${then}`,
      error: `${failure}${then}`,
      result: { verification, ...(d.url && { deploymentUrl: d.url }), ...(rollback && 'ref' in rollback && { rolledBackBy: rollback.ref }) },
      data: { verification, ...(rollback && 'ref' in rollback && { rolledBackBy: rollback.ref }) },
    });
  });
  return { next: 'done' };
}
