import type { Actor, CoreContext } from '../context.js';
import { ForbiddenError } from '../errors.js';
import { audit } from '../audit/store.js';
import { channelsOfProject } from '../projects/store.js';
import { ACTIONS, ROLE_RANK, type Action, type ActionRule, type Role } from './actions.js';
import { isSamePerson, principalOf, roleOn, type Principal } from './principal.js';

/**
 * The one authorisation check. Every verb on every surface (chat commands and buttons, the
 * console, the API, sockets) asks it before acting: `authorize(ctx, actor, action, resource)`.
 * A refusal is audited and says who can grant what is missing; surfaces show it privately.
 */

export interface Resource {
  /** The project acted on (for runs: the run's project). */
  project?: string | null;
  environment?: string;
  run?: { ref: string; requestedBy: string; projectKey: string | null; channel: string | null };
  /** What the refusal's audit row names, when not the run or project. */
  target?: string;
}

type Refusal = 'scope' | 'role' | 'admin' | 'requester' | 'approver' | 'channel';
export type Decision =
  | { allowed: true; principal: Principal; via: 'admin' | 'everyone' | 'role' | 'requester' | 'channel-member' | 'approver' }
  | { allowed: false; principal: Principal | undefined; refusal: Refusal; message: string };

type Ctx = Pick<CoreContext, 'em' | 'config'>;

const isChat = (actor: Actor) => Boolean(actor.channel) || Boolean(actor.direct);

function adminNames(ctx: Ctx): string {
  const list = ctx.config.admins.filter((a) => a !== '*');
  if (list.length === 0) return 'an admin (none is configured: add admins to autodevhub.yaml)';
  return `an admin (${list.slice(0, 3).join(', ')}${list.length > 3 ? ', …' : ''})`;
}

/** The check without side effects: allowed or not, and why. */
export async function can(ctx: Ctx, actor: Actor, action: Action, resource: Resource = {}): Promise<Decision> {
  const rule: ActionRule = ACTIONS[action];
  const deny = (refusal: Refusal, message: string, principal?: Principal): Decision => ({ allowed: false, principal, refusal, message: `Not allowed: ${message}` });
  if (actor.scopes && rule.scope && !actor.scopes.includes(rule.scope)) {
    return deny('scope', `this API token does not have the "${rule.scope}" scope needed to ${rule.what}. Make a token with it in the console (API tokens) or with POST /api/v1/tokens.`);
  }
  const principal = await principalOf(ctx, actor);
  const projectKey = resource.project ?? resource.run?.projectKey ?? null;
  const project = projectKey ? ctx.config.projects.find((p) => p.key === projectKey) : undefined;
  if (rule.linkedChannelsOnly && projectKey && isChat(actor) && !project?.allow_unlinked_channels && principal.channel?.projectKey !== projectKey) {
    const channels = await channelsOfProject(ctx.em, projectKey);
    const where = actor.direct ? 'a direct message' : 'this channel';
    return deny(
      'channel',
      `${projectKey} takes ${rule.linkedChannelsOnly} commands only from its linked channels (${channels.join(', ') || 'none yet'}), not from ${where}. A maintainer or admin can link a channel in the console or API, or the project can set allow_unlinked_channels.`,
      principal,
    );
  }
  if (principal.admin) return { allowed: true, principal, via: 'admin' };
  if (rule.min === 'everyone') return { allowed: true, principal, via: 'everyone' };
  if (rule.min === 'admin') return deny('admin', `only ${adminNames(ctx)} may ${rule.what}.`, principal);
  const run = resource.run;
  if (rule.requester && run && isSamePerson(principal, run.requestedBy)) return { allowed: true, principal, via: 'requester' };
  if (!projectKey) {
    if (rule.personal === 'everyone') return { allowed: true, principal, via: 'everyone' };
    // A run with no project belongs to its requester, and to the conversation it was asked in.
    if (rule.personal === 'channel' && run?.channel && actor.channel === run.channel) return { allowed: true, principal, via: 'channel-member' };
    const personal = rule.personal === 'requester' || rule.personal === 'channel';
    const who = personal && run ? `the person who asked for ${run.ref}${rule.personal === 'channel' ? ', people in its channel' : ''} or ${adminNames(ctx)}` : adminNames(ctx);
    return deny(personal ? 'requester' : 'admin', `only ${who} may ${rule.what} here.`, principal);
  }
  const environment = resource.environment && project ? project.environments[resource.environment] : undefined;
  if (rule.approvers && environment && environment.approvers.length > 0) {
    // An approver may be named by handle, by the person's name in autodevhub.yaml, or as group:<name>.
    if (environment.approvers.some((a) => principal.tags.has(a))) return { allowed: true, principal, via: 'approver' };
    const target = run ? ` on ${run.ref}` : '';
    return deny(
      'approver',
      `you are not an approver for ${resource.environment}; ${environment.approvers.join(', ')} may decide${target}. ${capitalise(adminNames(ctx))} can add you to the approvers of ${resource.environment} in autodevhub.yaml.`,
      principal,
    );
  }
  const need: Role = rule.perEnvironment && environment ? environment.min_role : (rule.min as Role);
  const role = roleOn(principal, projectKey);
  if (role && ROLE_RANK[role] >= ROLE_RANK[need]) return { allowed: true, principal, via: 'role' };
  const where = resource.environment ? `${projectKey} (${resource.environment})` : projectKey;
  const have = role ? `you are a ${role}` : 'you have no role there';
  // Who asked is not said: the refusal must not tell what the refused may not see.
  const requesterNote = rule.requester && run ? ` (or be the person who asked for ${run.ref})` : '';
  return deny('role', `to ${rule.what} in ${where} you need the ${need} role${requesterNote}; ${have}. ${capitalise(adminNames(ctx))} can grant it.`, principal);
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * Allowed: returns who the actor is. Refused: writes an `access.denied` audit row and throws a
 * ForbiddenError whose message says what is missing and who can grant it.
 */
export async function authorize(ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>, actor: Actor, action: Action, resource: Resource = {}): Promise<Principal> {
  const decision = await can(ctx, actor, action, resource);
  if (decision.allowed) return decision.principal;
  const projectKey = resource.project ?? resource.run?.projectKey ?? null;
  // A refusal is recorded, but a failing audit write must not turn it into an error.
  await audit(ctx, {
    actor: actor.id,
    action: 'access.denied',
    target: resource.target ?? resource.run?.ref ?? projectKey ?? action,
    source: actor.channel ?? actor.platform,
    data: { action, refusal: decision.refusal, project: projectKey, environment: resource.environment ?? null },
  }).catch((err: unknown) => ctx.logger.warn({ err }, 'could not audit a refusal'));
  throw new ForbiddenError(decision.message, { action, refusal: decision.refusal });
}

/** For lists: the token must carry the action's scope (what is listed is filtered per item). */
export function requireScope(actor: Actor, action: Action): void {
  const scope = ACTIONS[action].scope as string | null;
  if (actor.scopes && scope && !actor.scopes.includes(scope)) {
    throw new ForbiddenError(`Not allowed: this API token does not have the "${scope}" scope needed to ${ACTIONS[action].what}.`, { action, refusal: 'scope' });
  }
}
