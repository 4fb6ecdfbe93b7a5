/**
 * The permission model: every action anyone can take, and the least role it needs. This table is
 * the matrix written in docs/access.md; `authorize` (authorize.ts) is the one place that reads it.
 * Adding a verb is adding a row here and calling `authorize(ctx, actor, '<action>', resource)`
 * in the verb.
 *
 * Levels, lowest first: `everyone` (anyone the platform vouches for: a signed chat user, a console
 * session, an API token), then per project `viewer` < `developer` < `maintainer`, then global
 * `admin`, who may do everything.
 */

export const ROLE_RANK = { none: 0, viewer: 1, developer: 2, maintainer: 3 } as const;
export type Role = Exclude<keyof typeof ROLE_RANK, 'none'>;
export type Level = 'everyone' | Role | 'admin';

/** What an API token may be limited to. A console session or a chat user has them all. */
export const SCOPES = ['read', 'run', 'deploy', 'approve', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ActionRule {
  /** The least level that may act, on the project the resource belongs to. */
  min: Level;
  /** The token scope it needs (none: any token). */
  scope: Scope | null;
  /** How a refusal names it: "… to <what>". */
  what: string;
  /** The person who asked for the run may act on it whatever their role. */
  requester?: boolean;
  /**
   * With no project (a story from an unlinked channel): who may act. `channel`: the requester and
   * anyone in the channel the run was asked in (its conversation).
   */
  personal?: 'everyone' | 'channel' | 'requester' | 'admin';
  /** Environments may ask for more (`min_role`); the run's environment decides. */
  perEnvironment?: boolean;
  /** The environment's approvers decide; with none listed, `min` does. */
  approvers?: boolean;
  /** From chat only in channels linked to the project, unless the project allows others: the command's name. */
  linkedChannelsOnly?: string;
}

export const ACTIONS = {
  help: { min: 'everyone', scope: null, what: 'read the usage', personal: 'everyone' },
  whoami: { min: 'everyone', scope: null, what: 'see who you are', personal: 'everyone' },
  'run.read': { min: 'viewer', scope: 'read', what: 'see runs and stories', requester: true, personal: 'channel' },
  'project.read': { min: 'viewer', scope: 'read', what: 'see the project', personal: 'everyone' },
  'story.create': { min: 'viewer', scope: 'run', what: 'write user stories', personal: 'everyone' },
  'story.regenerate': { min: 'viewer', scope: 'run', what: 'regenerate stories', requester: true, personal: 'channel' },
  'story.accept': { min: 'developer', scope: 'run', what: 'accept stories', requester: true, personal: 'channel' },
  'docs.create': { min: 'developer', scope: 'run', what: 'document changes in a pull request', personal: 'admin' },
  'deploy.create': { min: 'developer', scope: 'deploy', what: 'deploy', perEnvironment: true, linkedChannelsOnly: 'deploy', personal: 'admin' },
  // Issue 15's verbs: deploy-like, per environment.
  'deploy.promote': { min: 'developer', scope: 'deploy', what: 'promote a deployment', perEnvironment: true, linkedChannelsOnly: 'promote', personal: 'admin' },
  'deploy.rollback': { min: 'developer', scope: 'deploy', what: 'roll back a deployment', perEnvironment: true, linkedChannelsOnly: 'rollback', personal: 'admin' },
  // Issue 27's deploy safety: locks are deploy-like; going past a lock, freeze or rule is an admin's, with a reason.
  'deploy.lock': { min: 'developer', scope: 'deploy', what: 'lock and unlock environments', perEnvironment: true, personal: 'admin' },
  'deploy.override': { min: 'admin', scope: 'deploy', what: 'deploy past locks, freezes and branch rules, or release another person\'s lock', personal: 'admin' },
  'deploy.approve': { min: 'maintainer', scope: 'approve', what: 'approve or reject deploys', approvers: true, personal: 'admin' },
  'run.cancel': { min: 'maintainer', scope: 'run', what: "cancel other people's runs", requester: true, personal: 'requester' },
  'channel.link': { min: 'maintainer', scope: 'admin', what: 'link channels to the project', linkedChannelsOnly: 'link', personal: 'admin' },
  'widget_token.manage': { min: 'maintainer', scope: 'admin', what: 'make and revoke widget tokens', personal: 'admin' },
  'api_token.own': { min: 'everyone', scope: 'admin', what: 'make and revoke your own API tokens', personal: 'everyone' },
  'api_token.any': { min: 'admin', scope: 'admin', what: "see and revoke other people's API tokens", personal: 'admin' },
  'people.read': { min: 'admin', scope: 'read', what: 'see people and their identities', personal: 'admin' },
  'people.manage': { min: 'admin', scope: 'admin', what: 'link and unlink identities and sign people out', personal: 'admin' },
  'roles.read': { min: 'admin', scope: 'read', what: 'see role grants', personal: 'admin' },
  'roles.grant': { min: 'admin', scope: 'admin', what: 'grant and remove roles', personal: 'admin' },
  'story.export': { min: 'developer', scope: 'run', what: 'file stories as issues and pull requests', personal: 'admin' },
  'webhook.read': { min: 'maintainer', scope: 'read', what: 'see outgoing webhook deliveries', personal: 'admin' },
  'webhook.redeliver': { min: 'maintainer', scope: 'admin', what: 'deliver a webhook again', personal: 'admin' },
  'queues.manage': { min: 'admin', scope: 'admin', what: 'see and manage the job queues', personal: 'admin' },
  // The audit log API.
  'audit.read': { min: 'admin', scope: 'admin', what: 'read the audit log', personal: 'admin' },
  'audit.export': { min: 'admin', scope: 'admin', what: 'export the audit log', personal: 'admin' },
} as const satisfies Record<string, ActionRule>;

export type Action = keyof typeof ACTIONS;

export function ruleOf(action: Action): ActionRule {
  return ACTIONS[action];
}

/** The matrix as data (for the API and docs/access.md): each action, who may, and the token scope. */
export function permissionMatrix(): Array<{ action: Action; min: Level; scope: Scope | null; what: string; notes: string[] }> {
  return (Object.keys(ACTIONS) as Action[]).map((action) => {
    const r: ActionRule = ACTIONS[action];
    const notes = [
      ...(r.requester ? ['the person who asked for the run may, whatever their role'] : []),
      ...(r.perEnvironment ? ["an environment's min_role may ask for more"] : []),
      ...(r.approvers ? ["an environment's approvers decide when it lists them"] : []),
      ...(r.linkedChannelsOnly ? ['from chat: only in channels linked to the project, unless it sets allow_unlinked_channels'] : []),
    ];
    return { action, min: r.min, scope: r.scope, what: r.what, notes };
  });
}
