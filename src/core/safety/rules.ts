import type { Actor, CoreContext } from '../context.js';
import type { EnvironmentPolicy, ProjectConfig } from '../config.js';
import { personOf } from '../access/identities.js';
import type { DeployRun } from '../runs/model.js';
import { currentLock, soakOf, type LockRow } from './store.js';
import { formatSpan, formatTime, frozenAt, refAllowed } from './windows.js';

/**
 * The rules of deploy safety, in words a person can act on: each refusal says until when and who
 * can do something about it. Checked when a deploy is asked for (refused at once, nothing
 * stored) and again just before GitHub is asked to deploy (a lock or freeze that began while the
 * run waited for approval, soak time, the wait timer).
 */

type Trigger = 'command' | 'promote' | 'rollback' | 'auto_rollback' | undefined;

export const overrideHint = (environment: string) => `an admin can deploy anyway with \`deploy ${environment} … --override "reason"\``;

function lockText(lock: LockRow, zone: string): string {
  const until = lock.expiresAt ? `until ${formatTime(Date.parse(lock.expiresAt), zone)}` : 'until they unlock it';
  return `${lock.environment} is locked by ${lock.holder} ${until}${lock.reason ? ` (${lock.reason})` : ''}; ${lock.holder} can \`unlock ${lock.environment}\``;
}

async function lockBlocks(ctx: Pick<CoreContext, 'em'>, repo: string, environment: string, who: string): Promise<LockRow | undefined> {
  const lock = await currentLock(ctx.em, repo, environment);
  if (!lock) return undefined;
  return lock.person === (await personOf(ctx.em, who)) ? undefined : lock;
}

/** Why a deploy asked for now is refused (empty: it is not). Rollbacks pass freezes and branch rules; automatic ones pass everything. */
export async function requestRefusals(ctx: Pick<CoreContext, 'em'>, actor: Actor, project: ProjectConfig & { repo: string }, environment: string, input: { ref?: string | undefined; trigger?: Trigger }): Promise<string[]> {
  const policy = project.environments[environment]!;
  const zone = project.time_zone;
  if (input.trigger === 'auto_rollback') return [];
  const out: string[] = [];
  const lock = await lockBlocks(ctx, project.repo, environment, actor.id);
  if (lock) out.push(lockText(lock, zone));
  if (input.trigger === 'rollback') return out;
  const frozen = frozenAt(policy, zone, Date.now());
  if (frozen) out.push(`${environment} is frozen ${frozen.until ? `until ${formatTime(frozen.until, zone)}` : 'for now'} (${frozen.reasons.join(', ')})`);
  if (input.ref && !refAllowed(policy.refs, input.ref)) out.push(`${environment} takes only ${policy.refs.join(', ')}, and "${input.ref}" is none of them; deploy one of those, or promote a run that did`);
  return out;
}

/** The refusal as one message: the reasons, then who can override. */
export function refusalText(environment: string, reasons: string[]): string {
  return `${reasons.join('; ')}; ${overrideHint(environment)}.`;
}

export type BeforeDeploy = { go: true } | { go: false; until: number | undefined; why: string; deadline: number; late: boolean };

/** The latest moment this run may still start: its approval deadline (or its timeout from the request). */
export function deadlineOf(run: DeployRun, policy: EnvironmentPolicy): number {
  if (run.result.approvals?.expiresAt) return Date.parse(run.result.approvals.expiresAt);
  const from = run.result.approvalRequestedAt ?? run.result.readyAt ?? run.createdAt;
  return Date.parse(from) + policy.timeout;
}

/**
 * Just before GitHub is asked to deploy: what still holds this run back, and until when. A
 * lock or freeze that began after the request counts too. The run waits for it when it ends
 * before the run's deadline; when it ends later (or cannot be known), `late` says the run should
 * be refused now rather than deploy on an approval nobody has looked at for that long.
 */
export async function beforeDeploy(ctx: Pick<CoreContext, 'em'>, run: DeployRun, project: ProjectConfig & { repo: string }, policy: EnvironmentPolicy, readyAt: number): Promise<BeforeDeploy> {
  const trigger = run.input.trigger;
  if (run.input.override || trigger === 'auto_rollback') return { go: true };
  const zone = project.time_zone;
  const env = run.input.environment;
  const now = Date.now();
  const holds: Array<{ until: number | undefined; why: string }> = [];
  const lock = await lockBlocks(ctx, project.repo, env, run.requestedBy);
  if (lock) holds.push({ until: lock.expiresAt ? Date.parse(lock.expiresAt) : undefined, why: lockText(lock, zone) });
  if (trigger !== 'rollback') {
    const frozen = frozenAt(policy, zone, now);
    if (frozen) holds.push({ until: frozen.until, why: `${env} is frozen ${frozen.until ? `until ${formatTime(frozen.until, zone)}` : 'for now'} (${frozen.reasons.join(', ')})` });
    const soak = await soakHold(ctx, project.repo, policy, String(run.result.sha ?? ''), now);
    if (soak) holds.push(soak);
  }
  if (policy.wait_timer && readyAt + policy.wait_timer > now) holds.push({ until: readyAt + policy.wait_timer, why: `the wait timer of ${formatSpan(policy.wait_timer)} after approval ends at ${formatTime(readyAt + policy.wait_timer, zone)}` });
  if (!holds.length) return { go: true };
  const deadline = deadlineOf(run, policy);
  const known = holds.every((h) => h.until !== undefined);
  const until = known ? Math.max(...holds.map((h) => h.until!)) : undefined;
  const late = until === undefined ? now >= deadline : until > deadline;
  return { go: false, until, why: holds.map((h) => h.why).join('; '), deadline, late };
}

async function soakHold(ctx: Pick<CoreContext, 'em'>, repo: string, policy: EnvironmentPolicy, sha: string, now: number): Promise<{ until: number | undefined; why: string } | undefined> {
  const soakIn = policy.soak_in ?? policy.requires;
  if (!policy.soak_time || !soakIn || !sha) return undefined;
  const soak = await soakOf(ctx.em, repo, soakIn, sha);
  if (soak.since === null) return { until: undefined, why: `${sha.slice(0, 7)} has not succeeded in ${soakIn}, where it must run for ${formatSpan(policy.soak_time)} first` };
  if (soak.failedAt !== null) return { until: undefined, why: `${sha.slice(0, 7)} failed a smoke check in ${soakIn} at ${new Date(soak.failedAt).toISOString()}; it cannot soak` };
  const until = soak.since + policy.soak_time;
  return until > now ? { until, why: `${sha.slice(0, 7)} must soak in ${soakIn} until ${new Date(until).toISOString().slice(11, 16)} UTC (${formatSpan(until - now)} left)` } : undefined;
}

/** For the approval card: soak time left, the wait timer, the override. */
export async function approvalNotes(ctx: Pick<CoreContext, 'em'>, run: DeployRun, project: ProjectConfig & { repo: string }, policy: EnvironmentPolicy): Promise<string[]> {
  const notes: string[] = [];
  if (run.input.override) notes.push(`Override by ${run.input.override.by}: "${run.input.override.reason}"`);
  else {
    const soak = run.input.trigger === 'rollback' ? undefined : await soakHold(ctx, project.repo, policy, String(run.result.sha ?? ''), Date.now());
    if (soak) notes.push(`Soak: ${soak.why}`);
    if (policy.wait_timer) notes.push(`Wait timer: deploys ${formatSpan(policy.wait_timer)} after approval`);
  }
  return notes;
}
