import type { Actor, CoreContext } from '../context.js';
import type { ProjectConfig } from '../config.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { authorize, can } from '../access/authorize.js';
import { personOf } from '../access/identities.js';
import { resolveProject } from '../projects/service.js';
import { currentLock, locksOf, readQueues, releaseLock, takeLock, type LockRow, type QueueSlot } from './store.js';
import { formatSpan, formatTime, frozenAt, upcomingFreezes, type Occurrence } from './windows.js';

/**
 * The verbs of deploy safety that every surface shares: `lock`, `unlock`, `locks`, `freezes`,
 * `queue`, and the environment state the API and the dashboard show.
 */

type Project = ProjectConfig & { repo: string };
interface Who {
  ctx: CoreContext;
  actor: Actor;
}

function environmentOf(project: Project, environment: string): string {
  if (!project.environments[environment]) {
    const valid = Object.keys(project.environments);
    throw new ValidationError(`${project.repo} has no environment "${environment}".${valid.length ? ` Valid: ${valid.join(', ')}.` : ''}`);
  }
  return environment;
}

function lockLine(l: LockRow, zone: string): string {
  return `${l.environment} locked by ${l.holder} since ${formatTime(Date.parse(l.createdAt), zone)}${l.expiresAt ? `, until ${formatTime(Date.parse(l.expiresAt), zone)}` : ', until unlocked'}${l.reason ? ` (${l.reason})` : ''}`;
}

/** `lock [owner/repo] <environment> [reason] [for 2h]`: only the holder's deploys go there. */
export async function lockEnvironment({ ctx, actor }: Who, input: { repo?: string; environment: string; reason?: string; forMs?: number }): Promise<string> {
  const project = await resolveProject(ctx, actor, input.repo, 'lock acme/web production debugging for 2h');
  const environment = environmentOf(project, input.environment);
  await authorize(ctx, actor, 'deploy.lock', { project: project.key, environment });
  const person = await personOf(ctx.em, actor.id);
  const expiresAt = input.forMs ? new Date(Date.now() + input.forMs) : null;
  const held = await transaction(ctx, async (tx) => {
    const lock = await takeLock(tx.em, { repo: project.repo, environment, holder: actor.id, person, reason: input.reason ?? null, expiresAt });
    if (lock) await audit(tx, { actor: actor.id, action: 'environment.locked', target: `${project.key}/${environment}`, source: actor.channel ?? actor.platform, data: { reason: lock.reason, expiresAt: lock.expiresAt } });
    return lock;
  });
  const zone = project.time_zone;
  if (!held) {
    const other = await currentLock(ctx.em, project.repo, environment);
    throw new ConflictError(
      other ? `${lockLine(other, zone)}. ${other.holder} can \`unlock ${environment}\`; an admin can release it with \`unlock ${environment} <reason>\`.` : `${environment} could not be locked; try again.`,
    );
  }
  return `${project.repo} ${environment} is locked by ${actor.id}${held.expiresAt ? ` until ${formatTime(Date.parse(held.expiresAt), zone)}` : ' until you `unlock ' + environment + '`'}${held.reason ? ` (${held.reason})` : ''}. Other people's deploys there are refused meanwhile.`;
}

/** `unlock [owner/repo] <environment> [reason]`: the holder, or an admin with a reason. */
export async function unlockEnvironment({ ctx, actor }: Who, input: { repo?: string; environment: string; reason?: string }): Promise<string> {
  const project = await resolveProject(ctx, actor, input.repo, 'unlock acme/web production');
  const environment = environmentOf(project, input.environment);
  await authorize(ctx, actor, 'deploy.lock', { project: project.key, environment });
  const lock = await currentLock(ctx.em, project.repo, environment);
  if (!lock) return `${project.repo} ${environment} is not locked.`;
  const mine = lock.person === (await personOf(ctx.em, actor.id));
  if (!mine) {
    await authorize(ctx, actor, 'deploy.override', { project: project.key, environment });
    if (!input.reason) throw new ValidationError(`${lockLine(lock, project.time_zone)}. Releasing another person's lock needs a reason: \`unlock ${environment} <reason>\`.`);
  }
  const released = await transaction(ctx, async (tx) => {
    const done = await releaseLock(tx.em, project.repo, environment, lock.person);
    if (done) await audit(tx, { actor: actor.id, action: mine ? 'environment.unlocked' : 'environment.unlocked_by_admin', target: `${project.key}/${environment}`, source: actor.channel ?? actor.platform, data: { holder: lock.holder, reason: input.reason ?? null } });
    return done;
  });
  if (!released) return `${project.repo} ${environment} was released already.`;
  return mine ? `${project.repo} ${environment} is unlocked.` : `${project.repo} ${environment} is unlocked; ${lock.holder}'s lock was released by ${actor.id}: ${input.reason}.`;
}

/** The projects a person may read: the one named, the channel's, or every one they hold a role on. */
async function readableProjects(ctx: CoreContext, actor: Actor, repo: string | undefined): Promise<Project[]> {
  if (repo || actor.channel) {
    try {
      const project = await resolveProject(ctx, actor, repo, 'locks acme/web');
      await authorize(ctx, actor, 'project.read', { project: project.key });
      return [project];
    } catch (err) {
      if (repo || !(err instanceof ValidationError)) throw err;
    }
  }
  const out: Project[] = [];
  for (const p of ctx.config.projects) if (p.repo && (await can(ctx, actor, 'project.read', { project: p.key })).allowed) out.push(p as Project);
  if (!out.length) throw new NotFoundError('You hold a role on no project here; name the repository, as in "locks acme/web".');
  return out;
}

/** `locks [owner/repo]`. */
export async function listLocks({ ctx, actor }: Who, input: { repo?: string }): Promise<string> {
  const projects = await readableProjects(ctx, actor, input.repo);
  const locks = await locksOf(ctx.em, projects.map((p) => p.repo));
  if (!locks.length) return `No environment is locked (${projects.map((p) => p.repo).join(', ')}).`;
  const zone = (repo: string) => projects.find((p) => p.repo === repo)!.time_zone;
  return locks.map((l) => `${l.repo} ${lockLine(l, zone(l.repo))}`).join('\n');
}

const TWO_WEEKS = 14 * 86_400_000;

function occurrenceLine(o: Occurrence, zone: string, now: number): string {
  return `${o.name}: ${formatTime(o.start, zone)} – ${formatTime(o.end, zone)}${o.start <= now ? ' (now)' : ''}`;
}

/** `freezes [owner/repo] [environment]`: frozen now, and the freezes of the next two weeks. */
export async function showFreezes({ ctx, actor }: Who, input: { repo?: string; environment?: string }): Promise<string> {
  const projects = await readableProjects(ctx, actor, input.repo);
  const now = Date.now();
  const lines: string[] = [];
  for (const p of projects) {
    const envs = input.environment ? [environmentOf(p, input.environment)] : Object.keys(p.environments);
    for (const env of envs) {
      const policy = p.environments[env]!;
      if (!policy.freezes.length && !policy.deploy_windows.length) continue;
      const frozen = frozenAt(policy, p.time_zone, now);
      lines.push(`${p.repo} ${env}: ${frozen ? `frozen ${frozen.until ? `until ${formatTime(frozen.until, p.time_zone)}` : 'for now'} (${frozen.reasons.join(', ')})` : 'open now'}`);
      for (const o of upcomingFreezes(policy, p.time_zone, now, TWO_WEEKS)) lines.push(`  ${occurrenceLine(o, p.time_zone, now)}`);
      if (policy.deploy_windows.length) lines.push(`  deploys only within: ${policy.deploy_windows.map((w) => `${w.name} (${w.days ? `${w.days.join(',')} ` : ''}${w.from}–${w.until})`).join('; ')}`);
    }
  }
  return lines.length ? lines.join('\n') : 'No freezes or deploy windows are configured.';
}

export interface EnvironmentState {
  repo: string;
  project: string;
  environment: string;
  timeZone: string;
  lock: LockRow | null;
  frozen: { until: string | null; reasons: string[] } | null;
  upcomingFreezes: Array<{ name: string; start: string; end: string }>;
  active: QueueSlot | null;
  waiting: QueueSlot | null;
}

/** Every environment of the projects, as the API and the dashboard show them. */
export async function environmentStates(ctx: CoreContext, projects: Project[]): Promise<EnvironmentState[]> {
  const now = Date.now();
  const repos = projects.map((p) => p.repo);
  const [locks, queues] = await Promise.all([locksOf(ctx.em, repos), readQueues(ctx.em, repos)]);
  const open = (s: QueueSlot | undefined): QueueSlot | null => (s && ['queued', 'running', 'waiting_approval'].includes(s.status) ? s : null);
  return projects.flatMap((p) =>
    Object.keys(p.environments).map((env) => {
      const policy = p.environments[env]!;
      const frozen = frozenAt(policy, p.time_zone, now);
      const q = queues.find((r) => r.repo === p.repo && r.environment === env);
      return {
        repo: p.repo,
        project: p.key,
        environment: env,
        timeZone: p.time_zone,
        lock: locks.find((l) => l.repo === p.repo && l.environment === env) ?? null,
        frozen: frozen ? { until: frozen.until ? new Date(frozen.until).toISOString() : null, reasons: frozen.reasons } : null,
        upcomingFreezes: upcomingFreezes(policy, p.time_zone, now, TWO_WEEKS).map((o) => ({ name: o.name, start: new Date(o.start).toISOString(), end: new Date(o.end).toISOString() })),
        active: open(q?.active),
        waiting: open(q?.waiting),
      };
    }),
  );
}

/** The state of one project's environments, for a reader of the project. */
export async function projectEnvironments({ ctx, actor }: Who, projectKey: string): Promise<EnvironmentState[]> {
  const project = ctx.config.projects.find((p) => p.key === projectKey && p.repo);
  if (!project) throw new NotFoundError(`There is no project "${projectKey}".`);
  await authorize(ctx, actor, 'project.read', { project: project.key });
  return environmentStates(ctx, [project as Project]);
}

/** `queue [owner/repo] <environment>`. */
export async function showQueue({ ctx, actor }: Who, input: { repo?: string; environment: string }): Promise<string> {
  const project = await resolveProject(ctx, actor, input.repo, 'queue acme/web production');
  const environment = environmentOf(project, input.environment);
  await authorize(ctx, actor, 'project.read', { project: project.key });
  const [state] = (await environmentStates(ctx, [project])).filter((s) => s.environment === environment);
  const zone = project.time_zone;
  const slot = (s: NonNullable<EnvironmentState['active']>, now: number) => `${s.ref} ${s.status.replace('_', ' ')}${s.stage ? ` (${s.stage})` : ''} by ${s.requestedBy}, asked ${formatSpan(now - Date.parse(s.createdAt))} ago: ${s.description}`;
  const now = Date.now();
  return [
    `${project.repo} ${environment}:`,
    `  deploying: ${state?.active ? slot(state.active, now) : 'nothing'}`,
    `  waiting: ${state?.waiting ? slot(state.waiting, now) : 'nothing'}`,
    `  lock: ${state?.lock ? lockLine(state.lock, zone) : 'none'}`,
    `  freeze: ${state?.frozen ? `frozen ${state.frozen.until ? `until ${formatTime(Date.parse(state.frozen.until), zone)}` : 'for now'} (${state.frozen.reasons.join(', ')})` : 'open'}`,
  ].join('\n');
}
