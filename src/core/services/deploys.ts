import type { Actor, CoreContext } from '../context.js';
import type { EnvironmentPolicy, ProjectConfig } from '../config.js';
import { ConflictError, ForbiddenError, PermanentFailure, ServiceUnavailableError, ValidationError } from '../errors.js';
import type { RunStatus } from '../db/entities.js';
import { getRun, recordEvent, type CreatedRun, type EventPatch, type RunSummary } from './runs.js';
import { audit } from './audit.js';
import { resolveProject } from './projects.js';
import { identitiesOf, personOf } from './identities.js';
import type { CheckItem } from '../github/client.js';

/**
 * The deploy workflow: resolve → gate → approval → deploy → verify. Each stage is resumable from
 * what Postgres holds (the run's stage and result), so a job retried after a crash continues
 * where the run is. Waiting (for checks, for a deployment's statuses) is a delayed job, and
 * waiting for people holds no job at all.
 */

export const DEPLOY_STAGES = ['resolve', 'gate', 'approval', 'deploy', 'verify'] as const;

export interface DeployInput {
  repo?: string;
  environment: string;
  ref?: string;
  deliveryId: string;
  chatRefs?: Record<string, string>;
}

export interface ApprovalState {
  required: number;
  approvers: string[];
  preventSelfApproval: boolean;
  decisions: Array<{ by: string; decision: 'approve' | 'reject'; reason: string | null; at: string }>;
  /** Listed approvers who have not decided (admins may also decide). */
  pending: string[];
  expiresAt: string;
}

/** What the worker should do next with a deploy job. */
export type Next = { next: 'continue' } | { next: 'poll'; delayMs: number } | { next: 'wait_approval'; timeoutMs: number } | { next: 'done' };

function projectFor(ctx: CoreContext, key: string | null): ProjectConfig | undefined {
  return ctx.config.projects.find((p) => p.key === key);
}

function policyFor(project: ProjectConfig, environment: string): EnvironmentPolicy {
  const policy = project.environments[environment];
  if (!policy) throw new PermanentFailure(`Project ${project.key} has no environment "${environment}".`);
  return policy;
}

/** Ingress verb: checks what can be checked without GitHub, then queues the run. */
export async function requestDeploy({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: DeployInput): Promise<CreatedRun> {
  if (!ctx.github) throw new ServiceUnavailableError('Deploys need GitHub: set GITHUB_TOKEN (and GITHUB_API_URL for GitHub Enterprise).');
  const project = await resolveProject(ctx, actor, input.repo, 'deploy acme/web production');
  const environments = Object.keys(project.environments);
  if (!project.environments[input.environment]) {
    throw new ValidationError(
      environments.length
        ? `${project.repo} has no environment "${input.environment}". Valid: ${environments.join(', ')}.`
        : `${project.repo} has no environments configured in autodevhub.yaml.`,
    );
  }
  const created = await ctx.intake.submit({
    kind: 'deploy',
    requestedBy: actor.id,
    sourcePlatform: actor.platform,
    channel: actor.channel ?? null,
    projectKey: project.key,
    input: { repo: project.repo, environment: input.environment, ...(input.ref && { ref: input.ref }), description: `Deploy ${project.repo} to ${input.environment}${input.ref ? ` at ${input.ref}` : ''}` },
    delivery: { platform: actor.platform, id: input.deliveryId },
    message: `Queued: deploy ${project.repo}${input.ref ? ` ${input.ref}` : ''} to ${input.environment}`,
    ...(input.chatRefs && { chatRefs: input.chatRefs }),
  });
  if (!created.duplicate) {
    await audit(ctx, { actor: actor.id, action: 'deploy.requested', target: created.run.ref, source: actor.channel ?? actor.platform, data: { repo: project.repo, environment: input.environment, ref: input.ref ?? null } });
  }
  return created;
}

function checkList(items: CheckItem[]): string {
  return items.map((c) => (c.url ? `${c.name} (${c.url})` : c.name)).join(', ');
}

/** Exponential backoff for polling, capped at 60 s: with the default base, 5 s, 10 s, 20 s, 40 s, 60 s … */
export function pollDelay(attempt: number, baseMs = 5000): number {
  return Math.min(60_000, baseMs * 2 ** Math.max(0, attempt));
}

async function step(ctx: CoreContext, run: RunSummary, patch: EventPatch) {
  const event = await recordEvent(ctx.em, ctx.publisher, run.id, patch);
  if (event) await ctx.scheduler.enqueueChatRender(run.id, event.seq);
  return event;
}

export async function approvalState(ctx: CoreContext, run: RunSummary, policy: EnvironmentPolicy): Promise<ApprovalState> {
  const rows: Array<{ approver: string; decision: 'approve' | 'reject'; reason: string | null; created_at: unknown }> = await ctx.em
    .getConnection()
    .execute(`select approver, decision, reason, created_at from approvals where run_id = ? order by id`, [run.id]);
  const decided = new Set(rows.map((r) => r.approver));
  const startedAt = typeof run.result?.approvalRequestedAt === 'string' ? Date.parse(run.result.approvalRequestedAt) : Date.now();
  return {
    required: policy.required_approvals,
    approvers: policy.approvers,
    preventSelfApproval: policy.prevent_self_approval,
    decisions: rows.map((r) => ({ by: r.approver, decision: r.decision, reason: r.reason, at: new Date(String(r.created_at)).toISOString() })),
    pending: policy.approvers.filter((a) => !decided.has(a) && !(policy.prevent_self_approval && a === run.requestedBy)),
    expiresAt: new Date(startedAt + policy.timeout).toISOString(),
  };
}

/** Worker verb: one step of a deploy run from wherever it stands. */
export async function advanceDeploy({ ctx, runId, attempt = 0 }: { ctx: CoreContext; runId: number; attempt?: number }): Promise<Next> {
  const github = ctx.github;
  if (!github) throw new PermanentFailure('GitHub is not configured on this worker: set GITHUB_TOKEN.');
  const run = await getRun(ctx.em, runId);
  if (['succeeded', 'failed', 'cancelled', 'waiting_approval'].includes(run.status)) return { next: 'done' };
  const project = projectFor(ctx, run.projectKey);
  if (!project?.repo) throw new PermanentFailure(`Project ${run.projectKey} is no longer configured.`);
  const environment = String(run.input.environment);
  const policy = policyFor(project, environment);
  const repo = project.repo;
  const result = run.result ?? {};
  const stage = run.stage === 'queued' ? 'resolve' : run.stage;

  switch (stage) {
    case 'resolve': {
      const resolved = await github.resolveRef(repo, typeof run.input.ref === 'string' ? run.input.ref : undefined);
      await step(ctx, run, {
        status: 'running',
        stage: 'gate',
        progress: 20,
        message: `${resolved.ref} is ${resolved.sha.slice(0, 7)}; checking its checks`,
        result: { sha: resolved.sha, ref: resolved.ref, commitUrl: resolved.url, gateStartedAt: new Date().toISOString() },
      });
      await audit(ctx, { actor: 'autodevhub', action: 'deploy.resolved', target: run.ref, data: { ref: resolved.ref, sha: resolved.sha } });
      return { next: 'continue' };
    }
    case 'gate': {
      const sha = String(result.sha);
      const report = await github.gate(repo, sha, policy.required_checks);
      if (report.state === 'failure') {
        const message = `Quality gate failed: ${checkList(report.failing)}`;
        await audit(ctx, { actor: 'autodevhub', action: 'deploy.gate_failed', target: run.ref, data: { failing: report.failing } });
        throw new PermanentFailure(message);
      }
      if (report.state === 'pending') {
        const waited = Date.now() - Date.parse(String(result.gateStartedAt ?? run.createdAt));
        const waitingFor = [...report.pending.map((c) => c.name), ...report.missing.map((m) => `${m} (not reported yet)`)];
        if (waited > policy.gate_timeout) {
          await audit(ctx, { actor: 'autodevhub', action: 'deploy.gate_timeout', target: run.ref, data: { pending: waitingFor } });
          throw new PermanentFailure(`Quality gate timed out after ${Math.round(waited / 60_000)} min waiting for: ${waitingFor.join(', ')}`);
        }
        await step(ctx, run, { message: `Waiting for checks: ${waitingFor.join(', ')}` });
        return { next: 'poll', delayMs: pollDelay(attempt, ctx.config.deployPollBaseMs) };
      }
      await audit(ctx, { actor: 'autodevhub', action: 'deploy.gate_passed', target: run.ref, data: { passing: report.passing.map((c) => c.name) } });
      if (policy.required_approvals > 0) {
        const requestedAt = new Date().toISOString();
        const state = await approvalState(ctx, { ...run, result: { ...result, approvalRequestedAt: requestedAt } }, policy);
        const who = policy.approvers.length ? policy.approvers.join(', ') : 'an admin';
        await step(ctx, run, {
          status: 'waiting_approval',
          stage: 'approval',
          progress: 50,
          message: `Checks green. Waiting for ${policy.required_approvals} approval(s) from ${who}`,
          result: { approvalRequestedAt: requestedAt, approvals: state },
          data: { approvals: state },
          expectStatus: ['running'],
        });
        await audit(ctx, { actor: 'autodevhub', action: 'deploy.approval_requested', target: run.ref, data: { approvers: policy.approvers, required: policy.required_approvals } });
        return { next: 'wait_approval', timeoutMs: policy.timeout };
      }
      await step(ctx, run, { stage: 'deploy', progress: 60, message: 'Checks green; no approval needed. Deploying' });
      return { next: 'continue' };
    }
    case 'approval':
      // Approved: decideApproval moved the run on to "deploy" already; nothing to do here.
      return { next: 'done' };
    case 'deploy': {
      const sha = String(result.sha);
      // At most one GitHub Deployment per run: the run's reference is in the deployment's
      // payload, so a retry after a crash between "created" and "recorded" finds it.
      let deployment = await github.findDeployment(repo, sha, environment, run.ref);
      if (!deployment) {
        deployment = await github.createDeployment(repo, sha, environment, run.ref, `AutoDevHub ${run.ref} by ${run.requestedBy}`);
        await audit(ctx, { actor: run.requestedBy, action: 'deploy.created', target: run.ref, data: { deploymentId: deployment.id, sha, environment } });
      }
      await ctx.em.getConnection().execute(
        `insert into deployments (run_id, repo, environment, sha, github_deployment_id) values (?, ?, ?, ?, ?)
         on conflict (run_id) do nothing`,
        [run.id, repo, environment, sha, deployment.id],
      );
      await step(ctx, run, {
        stage: 'verify',
        progress: 75,
        message: `GitHub deployment ${deployment.id} created; following its status`,
        result: { deploymentId: deployment.id, deployStartedAt: new Date().toISOString() },
      });
      return { next: 'continue' };
    }
    case 'verify': {
      const id = Number(result.deploymentId);
      const status = await github.latestDeploymentStatus(repo, id);
      const url = status?.environmentUrl ?? status?.logUrl ?? null;
      if (status && status.state === 'success') {
        await ctx.em.getConnection().execute(`update deployments set state = 'success', environment_url = ?, log_url = ?, updated_at = now() where run_id = ?`, [status.environmentUrl, status.logUrl, run.id]);
        await step(ctx, run, {
          status: 'succeeded',
          stage: 'done',
          progress: 100,
          message: `Deployed ${String(result.sha).slice(0, 7)} to ${environment}${url ? `: ${url}` : ''}`,
          result: { deploymentUrl: url, environmentUrl: status.environmentUrl, logUrl: status.logUrl },
          ...(url && { data: { links: { deployment: url } } }),
        });
        await audit(ctx, { actor: 'autodevhub', action: 'deploy.succeeded', target: run.ref, data: { deploymentId: id, url } });
        return { next: 'done' };
      }
      if (status && (status.state === 'failure' || status.state === 'error' || status.state === 'inactive')) {
        await ctx.em.getConnection().execute(`update deployments set state = ?, log_url = ?, updated_at = now() where run_id = ?`, [status.state, status.logUrl, run.id]);
        await audit(ctx, { actor: 'autodevhub', action: 'deploy.failed', target: run.ref, data: { deploymentId: id, state: status.state, url } });
        throw new PermanentFailure(`The deployment ended in "${status.state}"${url ? `: ${url}` : ''}`);
      }
      const waited = Date.now() - Date.parse(String(result.deployStartedAt ?? run.createdAt));
      if (waited > policy.deploy_timeout) {
        await audit(ctx, { actor: 'autodevhub', action: 'deploy.timeout', target: run.ref, data: { deploymentId: id } });
        throw new PermanentFailure(`No final deployment status from GitHub after ${Math.round(waited / 60_000)} min (last: ${status?.state ?? 'none'}).`);
      }
      await step(ctx, run, { message: `Deployment ${status?.state ?? 'pending'}` });
      return { next: 'poll', delayMs: pollDelay(attempt, ctx.config.deployPollBaseMs) };
    }
    default:
      throw new PermanentFailure(`Deploy run ${run.ref} is in an unknown stage "${stage}".`);
  }
}

export interface Decision {
  run: string;
  decision: 'approve' | 'reject';
  reason?: string;
}

/**
 * An approval or rejection, from a button or the text command. The decider is the verified
 * platform user. One decision per person (a unique key); one transition out of the wait (a
 * conditional update): of twenty simultaneous clicks, each person counts once and the deploy
 * is enqueued at most once.
 */
export async function decideApproval({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: Decision): Promise<{ run: RunSummary; outcome: 'recorded' | 'approved' | 'rejected' }> {
  const run = await getRun(ctx.em, input.run);
  const source = actor.channel ?? actor.platform;
  const refuse = async (message: string, err: Error) => {
    await audit(ctx, { actor: actor.id, action: `deploy.${input.decision}_refused`, target: run.ref, source, data: { reason: message } });
    throw err;
  };
  if (run.kind !== 'deploy') return refuse('not a deploy', new ValidationError(`${run.ref} is not a deploy.`));
  if (run.status !== 'waiting_approval') {
    return refuse('not waiting', new ConflictError(`${run.ref} is not waiting for approval (it is ${run.status.replace('_', ' ')}).`));
  }
  const project = projectFor(ctx, run.projectKey);
  if (!project) return refuse('no project', new ConflictError(`${run.ref}'s project is no longer configured.`));
  const policy = policyFor(project, String(run.input.environment));
  const mine = await identitiesOf(ctx.em, actor.id);
  const isAdmin = mine.some((h) => ctx.config.admins.includes(h));
  const isApprover = mine.some((h) => policy.approvers.includes(h));
  if (!isApprover && !isAdmin) {
    const who = policy.approvers.length ? policy.approvers.join(', ') : 'an admin';
    return refuse('not an approver', new ForbiddenError(`You are not an approver for ${run.input.environment}; ${who} may decide on ${run.ref}.`));
  }
  if (policy.prevent_self_approval && input.decision === 'approve') {
    const theirs = await identitiesOf(ctx.em, run.requestedBy);
    if (theirs.some((h) => mine.includes(h))) {
      return refuse('self-approval', new ForbiddenError(`You requested ${run.ref}; someone else must approve it.`));
    }
  }
  const person = await personOf(ctx.em, actor.id);
  const inserted: unknown[] = await ctx.em.getConnection().execute(
    `insert into approvals (run_id, approver, person, decision, reason, source) values (?, ?, ?, ?, ?, ?)
     on conflict (run_id, person) do nothing returning id`,
    [run.id, actor.id, person, input.decision, input.reason ?? null, source],
  );
  if (!inserted.length) return refuse('already decided', new ConflictError(`You have already decided on ${run.ref}.`));
  await audit(ctx, { actor: actor.id, action: `deploy.${input.decision}d`, target: run.ref, source, data: { reason: input.reason ?? null } });
  const state = await approvalState(ctx, run, policy);

  if (input.decision === 'reject') {
    const event = await step(ctx, run, {
      status: 'failed',
      stage: 'approval',
      message: `Rejected by ${actor.id}${input.reason ? `: ${input.reason}` : ''}`,
      error: `Rejected by ${actor.id}${input.reason ? `: ${input.reason}` : ''}`,
      data: { approvals: state },
      result: { approvals: state },
      expectStatus: ['waiting_approval'],
    });
    return { run: await getRun(ctx.em, run.id), outcome: event ? 'rejected' : 'recorded' };
  }
  const approvals = state.decisions.filter((d) => d.decision === 'approve').length;
  if (approvals >= policy.required_approvals) {
    const event = await step(ctx, run, {
      status: 'running',
      stage: 'deploy',
      progress: 60,
      message: `Approved by ${state.decisions.filter((d) => d.decision === 'approve').map((d) => d.by).join(', ')}. Deploying`,
      data: { approvals: state },
      result: { approvals: state },
      expectStatus: ['waiting_approval'],
    });
    if (event) {
      await ctx.scheduler.enqueueRunPhase(run, 'deploy');
      return { run: await getRun(ctx.em, run.id), outcome: 'approved' };
    }
    return { run: await getRun(ctx.em, run.id), outcome: 'recorded' };
  }
  await step(ctx, run, {
    message: `Approved by ${actor.id} (${approvals} of ${policy.required_approvals})`,
    data: { approvals: state },
    result: { approvals: state },
    expectStatus: ['waiting_approval'],
  });
  return { run: await getRun(ctx.em, run.id), outcome: 'recorded' };
}

/** Worker verb, scheduled at the approval deadline: a run still waiting then expires. */
export async function expireApproval({ ctx, runId }: { ctx: CoreContext; runId: number }): Promise<boolean> {
  const run = await getRun(ctx.em, runId);
  if (run.status !== 'waiting_approval') return false;
  const event = await step(ctx, run, {
    status: 'failed',
    stage: 'approval',
    message: 'No approval before the deadline; the deploy request expired',
    error: 'Approval timed out',
    expectStatus: ['waiting_approval'],
  });
  if (event) await audit(ctx, { actor: 'autodevhub', action: 'deploy.expired', target: run.ref });
  return Boolean(event);
}

/** Deploys may be cancelled until GitHub has been asked to deploy. */
export function cancellable(run: RunSummary): boolean {
  const open: RunStatus[] = ['queued', 'running', 'waiting_approval'];
  return open.includes(run.status) && !(run.kind === 'deploy' && (run.stage === 'deploy' || run.stage === 'verify'));
}
