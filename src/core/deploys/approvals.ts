import type { Actor, CoreContext } from '../context.js';
import type { EnvironmentPolicy } from '../config.js';
import { ConflictError, ForbiddenError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { getRun, lockRun } from '../runs/store.js';
import { advance } from '../runs/advance.js';
import { OPEN_STATUSES, type ApprovalState, type DeployRun, type RunSummary } from '../runs/model.js';
import { identitiesOf, personOf } from '../access/identities.js';
import { authorize } from '../access/authorize.js';
import { decisionsOf, insertDecision } from './store.js';
import { policyFor, projectFor } from './policy.js';

export async function approvalState(ctx: Pick<CoreContext, 'em'>, run: DeployRun, policy: EnvironmentPolicy): Promise<ApprovalState> {
  const rows = await decisionsOf(ctx.em, run.id);
  const decided = new Set(rows.map((r) => r.approver));
  const startedAt = run.result.approvalRequestedAt ? Date.parse(run.result.approvalRequestedAt) : Date.now();
  return {
    required: policy.required_approvals,
    approvers: policy.approvers,
    preventSelfApproval: policy.prevent_self_approval,
    decisions: rows.map((r) => ({ by: r.approver, decision: r.decision, reason: r.reason, at: r.at })),
    pending: policy.approvers.filter((a) => !decided.has(a) && !(policy.prevent_self_approval && a === run.requestedBy)),
    expiresAt: new Date(startedAt + policy.timeout).toISOString(),
  };
}

export interface Decision {
  run: string;
  decision: 'approve' | 'reject';
  reason?: string;
}

type Outcome = 'recorded' | 'approved' | 'rejected';

/** Who may decide, or why not: the checks that need no write. */
async function checkDecider(ctx: CoreContext, actor: Actor, run: RunSummary, decision: Decision['decision']): Promise<{ policy: EnvironmentPolicy; run: DeployRun } | { refused: string; error: Error }> {
  if (run.kind !== 'deploy') return { refused: 'not a deploy', error: new ValidationError(`${run.ref} is not a deploy.`) };
  if (run.status !== 'waiting_approval') {
    return { refused: 'not waiting', error: new ConflictError(`${run.ref} is not waiting for approval (it is ${run.status.replace('_', ' ')}).`) };
  }
  const project = projectFor(ctx, run.projectKey);
  if (!project) return { refused: 'no project', error: new ConflictError(`${run.ref}'s project is no longer configured.`) };
  const policy = policyFor(project, run.input.environment, run);
  if (policy.prevent_self_approval && decision === 'approve') {
    const mine = await identitiesOf(ctx.em, actor.id);
    const theirs = await identitiesOf(ctx.em, run.requestedBy);
    if (theirs.some((h) => mine.includes(h))) return { refused: 'self-approval', error: new ForbiddenError(`You requested ${run.ref}; someone else must approve it.`) };
  }
  return { policy, run };
}

/**
 * An approval or rejection, from a button or the text command. The decider is the verified
 * platform user. One decision per person (a unique key); one transition out of the wait (a
 * conditional update); the decision, its audit row and the run's event commit together, so a
 * failure between them leaves nothing half done and the approver can simply try again.
 */
export async function decideApproval({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: Decision): Promise<{ run: RunSummary; outcome: Outcome }> {
  const found = await getRun(ctx.em, input.run);
  const source = actor.channel ?? actor.platform;
  // The one check first (approvers, else maintainers; admins), so outsiders learn nothing of the run's state.
  await authorize(ctx, actor, 'deploy.approve', { run: found, environment: found.kind === 'deploy' ? found.input.environment : undefined });
  const check = await checkDecider(ctx, actor, found, input.decision);
  if ('refused' in check) {
    await audit(ctx, { actor: actor.id, action: `deploy.${input.decision}_refused`, target: found.ref, source, data: { reason: check.refused } });
    throw check.error;
  }
  const { run, policy } = check;
  const person = await personOf(ctx.em, actor.id);
  const outcome = await transaction(ctx, async (tx): Promise<Outcome | 'duplicate' | { closed: string }> => {
    // Concurrent decisions on one run take turns: each counts the ones committed before it, so
    // the decision that reaches the required number is the one that moves the run on. One that
    // finds the wait already over (rejected, expired, cancelled meanwhile) records nothing.
    const status = await lockRun(tx.em, run.id);
    if (status !== 'waiting_approval') return { closed: status ?? 'gone' };
    if (!(await insertDecision(tx.em, { runId: run.id, approver: actor.id, person, decision: input.decision, reason: input.reason ?? null, source }))) return 'duplicate';
    await audit(tx, { actor: actor.id, action: input.decision === 'approve' ? 'deploy.approved' : 'deploy.rejected', target: run.ref, source, data: { reason: input.reason ?? null } });
    return applyDecision(tx, actor, run, policy, input);
  });
  if (outcome === 'duplicate') {
    await audit(ctx, { actor: actor.id, action: `deploy.${input.decision}_refused`, target: run.ref, source, data: { reason: 'already decided' } });
    throw new ConflictError(`You have already decided on ${run.ref}.`);
  }
  if (typeof outcome === 'object') {
    await audit(ctx, { actor: actor.id, action: `deploy.${input.decision}_refused`, target: run.ref, source, data: { reason: 'not waiting' } });
    throw new ConflictError(`${run.ref} is not waiting for approval (it is ${outcome.closed.replace('_', ' ')}).`);
  }
  return { run: await getRun(ctx.em, run.id), outcome };
}

/** Inside the decision's transaction: move the run on if this decision settles it. */
async function applyDecision(tx: CoreContext, actor: Actor, run: DeployRun, policy: EnvironmentPolicy, input: Decision): Promise<Outcome> {
  const state = await approvalState(tx, run, policy);
  const why = input.reason ? `: ${input.reason}` : '';
  if (input.decision === 'reject') {
    const event = await advance(tx, run.id, {
      status: 'failed',
      stage: 'approval',
      message: `Rejected by ${actor.id}${why}`,
      error: `Rejected by ${actor.id}${why}`,
      data: { approvals: state },
      result: { approvals: state },
      expectStatus: ['waiting_approval'],
    });
    return event ? 'rejected' : 'recorded';
  }
  const approvers = state.decisions.filter((d) => d.decision === 'approve');
  if (approvers.length < policy.required_approvals) {
    await advance(tx, run.id, {
      message: `Approved by ${actor.id} (${approvers.length} of ${policy.required_approvals})`,
      data: { approvals: state },
      result: { approvals: state },
      expectStatus: ['waiting_approval'],
    });
    return 'recorded';
  }
  const event = await advance(tx, run.id, {
    status: 'running',
    stage: 'deploy',
    progress: 60,
    message: `Approved by ${approvers.map((d) => d.by).join(', ')}. Deploying`,
    data: { approvals: state },
    result: { approvals: state },
    expectStatus: ['waiting_approval'],
  });
  if (!event) return 'recorded';
  tx.afterCommit?.(() => tx.scheduler.enqueueRunPhase(run, 'deploy'));
  return 'approved';
}

/** Worker verb, scheduled at the approval deadline: a run still waiting then expires. */
export async function expireApproval({ ctx, runId }: { ctx: CoreContext; runId: number }): Promise<boolean> {
  const run = await getRun(ctx.em, runId);
  if (run.status !== 'waiting_approval') return false;
  return transaction(ctx, async (tx) => {
    const event = await advance(tx, run.id, {
      status: 'failed',
      stage: 'approval',
      message: 'No approval before the deadline; the deploy request expired',
      error: 'Approval timed out',
      expectStatus: ['waiting_approval'],
    });
    if (event) await audit(tx, { actor: 'autodevhub', action: 'deploy.expired', target: run.ref });
    return Boolean(event);
  });
}

/** Deploys may be cancelled until GitHub has been asked to deploy. */
export function cancellable(run: RunSummary): boolean {
  return OPEN_STATUSES.includes(run.status) && !(run.kind === 'deploy' && (run.stage === 'deploy' || run.stage === 'verify'));
}

/**
 * One person's view of an approval (Teams refreshes an approval card per viewer): their own
 * decision if they made one, and whether the run is theirs (then someone else must approve).
 * Read through the one check, like any run.
 */
export async function approvalFor({ ctx, actor }: { ctx: CoreContext; actor: Actor }, ref: string): Promise<{ run: DeployRun; approvals: ApprovalState; mine: ApprovalState['decisions'][number] | null; ownRequest: boolean }> {
  const run = await getRun(ctx.em, ref);
  await authorize(ctx, actor, 'run.read', { run });
  if (run.kind !== 'deploy' || !run.result.approvals) throw new ValidationError(`${run.ref} has no approval.`);
  const approvals = run.result.approvals;
  const mine = approvals.decisions.find((d) => d.by === actor.id) ?? null;
  const [own, theirs] = await Promise.all([identitiesOf(ctx.em, actor.id), identitiesOf(ctx.em, run.requestedBy)]);
  return { run, approvals, mine, ownRequest: theirs.some((h) => own.includes(h)) };
}
