import type { Actor, CoreContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { PROJECT_ROLES } from '../config-file.js';
import { authorize } from './authorize.js';
import { deleteGrant, listGrants, upsertGrant, type GrantRow } from './store.js';

/**
 * Roles granted at run time by admins, on top of autodevhub.yaml (stored, audited). A grant names
 * a principal (a handle like slack:U0123, a person user:<id>, or group:<name>), a project (or "*"
 * for all of them) and a role; one role per principal and project.
 */

export type { GrantRow } from './store.js';

const PRINCIPAL_RE = /^((slack|discord|teams|github|web|sso|email):\S{1,200}|user:\d{1,12}|group:[a-z0-9][a-z0-9_.-]{0,63})$/i;

/** Grants from the file (read-only here) and from run time. */
export async function roleGrants({ ctx, actor }: { ctx: CoreContext; actor: Actor }): Promise<{ file: Array<{ principal: string; projectKey: string; role: string }>; runtime: GrantRow[] }> {
  await authorize(ctx, actor, 'roles.read');
  const file = [
    ...ctx.config.admins.filter((a) => a !== 'web:admin').map((principal) => ({ principal, projectKey: '*', role: 'admin' })),
    ...ctx.config.projects.flatMap((p) => PROJECT_ROLES.flatMap((role) => (p.roles[role] ?? []).map((principal) => ({ principal, projectKey: p.key, role })))),
  ];
  return { file, runtime: await listGrants(ctx.em) };
}

export async function grantRole({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: { principal: string; project: string; role: string }): Promise<GrantRow> {
  if (!PRINCIPAL_RE.test(input.principal)) throw new ValidationError('principal: give a handle (slack:U0123), a person (user:12) or a group (group:platform)');
  const role = input.role as GrantRow['role'];
  if (role === 'admin' ? input.project !== '*' : !(PROJECT_ROLES as readonly string[]).includes(role)) {
    throw new ValidationError(`role: one of ${PROJECT_ROLES.join(', ')} on a project, or admin on "*"`);
  }
  if (input.project !== '*' && !ctx.config.projects.some((p) => p.key === input.project)) throw new NotFoundError(`There is no project "${input.project}".`);
  await authorize(ctx, actor, 'roles.grant', { target: input.principal });
  return transaction(ctx, async (tx) => {
    const grant = await upsertGrant(tx.em, { principal: input.principal, projectKey: input.project, role, createdBy: actor.id });
    await audit(tx, { actor: actor.id, action: 'role.granted', target: input.principal, source: actor.platform, data: { project: input.project, role } });
    return grant;
  });
}

export async function removeGrant({ ctx, actor }: { ctx: CoreContext; actor: Actor }, id: number): Promise<void> {
  await authorize(ctx, actor, 'roles.grant', { target: `grant:${id}` });
  await transaction(ctx, async (tx) => {
    const removed = await deleteGrant(tx.em, id);
    if (!removed) throw new NotFoundError(`There is no grant ${id}.`);
    await audit(tx, { actor: actor.id, action: 'role.removed', target: removed.principal, source: actor.platform, data: { project: removed.projectKey, role: removed.role } });
  });
}
