import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AccessConfig } from '../config.js';
import type { Actor, CoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { authorize } from './authorize.js';
import { principalOf, roleOn } from './principal.js';
import { bindHandle, consumeToken, createPerson, findPerson, insertToken, linkHandles, listPeople, personOfHandle, setDisplayName, unbindHandle, userIdOf, type PersonRow } from './store.js';

/**
 * People: one person holds identities on every platform (`slack:U…`, `discord:…`, `teams:…`,
 * `github:…`, `web:…`, `sso:…`, `email:…`). Approvals, four-eyes and roles count people. A chat
 * identity joins a console account through a one-time link from `whoami`; admins link and unlink
 * in the console and API; autodevhub.yaml's `people` are linked at start.
 */

const LINK_TTL_MS = 10 * 60_000;
const HANDLE_RE = /^(slack|discord|teams|github|web|sso|email):[^\s]{1,200}$/;
const hash = (code: string) => createHash('sha256').update(code).digest('hex');
const CHAT = new Set(['slack', 'discord', 'teams']);

export type { PersonRow } from './store.js';

export function assertHandle(handle: string): void {
  if (!HANDLE_RE.test(handle)) throw new ValidationError(`"${handle.slice(0, 60)}" is not an identity like slack:U0123, discord:4455, teams:<aad id>, github:login, email:ann@acme.com`);
}

/** The people of autodevhub.yaml: each one's identities linked as one person, named. */
export async function syncPeople(em: EntityManager, people: AccessConfig['people']): Promise<void> {
  for (const [name, person] of Object.entries(people)) {
    const userId = await linkHandles(em, person.identities);
    await setDisplayName(em, userId, name);
  }
}

/** `whoami`: who the service takes you for, your roles, and (in chat) a one-time link to join your console account. */
export async function whoAmI({ ctx, actor }: { ctx: CoreContext; actor: Actor }): Promise<string> {
  await authorize(ctx, actor, 'whoami');
  const principal = await principalOf(ctx, actor);
  const others = principal.handles.filter((h) => h !== actor.id);
  const roles = ctx.config.projects
    .map((p) => ({ key: p.key, role: roleOn(principal, p.key), via: principal.roles.get(p.key) ? 'granted' : 'this channel' }))
    .filter((r) => r.role)
    .map((r) => `${r.key}: ${r.role} (${r.via})`);
  const lines = [
    `You are ${actor.id}${principal.userId ? ` (person user:${principal.userId})` : ''}.`,
    others.length ? `Linked identities: ${others.join(', ')}.` : 'No other identity is linked to you yet.',
    `Admin: ${principal.admin ? 'yes' : 'no'}. Roles: ${principal.admin ? 'all projects' : roles.join(', ') || 'none'}.`,
  ];
  if (CHAT.has(actor.platform) && !actor.privateReplies) {
    lines.push('To join this identity to your console account, ask me whoami where only you see the answer (in Teams: a 1:1 chat with AutoDevHub); the link it gives must not be seen by anyone else.');
  } else if (CHAT.has(actor.platform)) {
    const code = randomBytes(18).toString('base64url');
    await insertToken(ctx.em, { kind: 'link', tokenHash: hash(code), subject: actor.id, expiresAt: new Date(Date.now() + LINK_TTL_MS) });
    lines.push(`To join this identity to your console account, open ${ctx.config.publicUrl}/link?code=${code} while signed in, within 10 minutes. Use only a link you asked for yourself.`);
  }
  return lines.join('\n');
}

/** The person a console actor is, made when they have none yet. */
async function personFor(em: EntityManager, handle: string): Promise<number> {
  const { userId } = await personOfHandle(em, handle);
  if (userId) return userId;
  return linkHandles(em, [handle]);
}

/** Opening a `whoami` link while signed in: the chat identity joins the signed-in person. */
export async function redeemLinkCode({ ctx, actor }: { ctx: CoreContext; actor: Actor }, code: string): Promise<{ handle: string; person: PersonRow }> {
  await authorize(ctx, actor, 'whoami');
  if (actor.platform !== 'web') throw new ValidationError('Open the link in the console, signed in as yourself.');
  return transaction(ctx, async (tx) => {
    const handle = await consumeToken(tx.em, 'link', hash(code));
    if (!handle) throw new NotFoundError('This link is invalid, expired or already used: type whoami in chat for a new one.');
    const theirs = await personOfHandle(tx.em, handle);
    const userId = await personFor(tx.em, actor.id);
    // Moving an identity away from another person with identities of their own is an admin's call.
    if (theirs.userId && theirs.userId !== userId && theirs.handles.length > 1) {
      throw new ConflictError(`${handle} already belongs to another person; ask an admin to move it.`);
    }
    await bindHandle(tx.em, userId, handle);
    await audit(tx, { actor: actor.id, action: 'identity.linked', target: handle, source: 'web', data: { person: `user:${userId}`, via: 'whoami link' } });
    return { handle, person: (await findPerson(tx.em, userId))! };
  });
}

export async function peopleList({ ctx, actor }: { ctx: CoreContext; actor: Actor }): Promise<PersonRow[]> {
  await authorize(ctx, actor, 'people.read');
  return listPeople(ctx.em);
}

export async function personById({ ctx, actor }: { ctx: CoreContext; actor: Actor }, id: number): Promise<PersonRow> {
  await authorize(ctx, actor, 'people.read', { target: `user:${id}` });
  const person = await findPerson(ctx.em, id);
  if (!person) throw new NotFoundError(`There is no person ${id}.`);
  return person;
}

/** An admin moves an identity between people only by unlinking it first: never silently, roles and all. */
async function assertNotSomeoneElses(em: EntityManager, handle: string, userId?: number): Promise<void> {
  const owner = await userIdOf(em, handle);
  if (owner !== undefined && owner !== userId) {
    throw new ConflictError(`${handle} already belongs to person ${owner}: unlink it from them first (DELETE /api/v1/people/${owner}/identities/${handle}), then link it here.`);
  }
}

export async function createPersonWith({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: { displayName?: string; identities: string[] }): Promise<PersonRow> {
  input.identities.forEach(assertHandle);
  await authorize(ctx, actor, 'people.manage');
  return transaction(ctx, async (tx) => {
    for (const handle of input.identities) await assertNotSomeoneElses(tx.em, handle);
    const userId = await createPerson(tx.em, input.displayName ?? null);
    for (const handle of input.identities) await bindHandle(tx.em, userId, handle);
    await audit(tx, { actor: actor.id, action: 'person.created', target: `user:${userId}`, source: actor.platform, data: { identities: input.identities } });
    return (await findPerson(tx.em, userId))!;
  });
}

export async function linkIdentity({ ctx, actor }: { ctx: CoreContext; actor: Actor }, id: number, handle: string): Promise<PersonRow> {
  assertHandle(handle);
  await authorize(ctx, actor, 'people.manage', { target: `user:${id}` });
  return transaction(ctx, async (tx) => {
    if (!(await findPerson(tx.em, id))) throw new NotFoundError(`There is no person ${id}.`);
    await assertNotSomeoneElses(tx.em, handle, id);
    await bindHandle(tx.em, id, handle);
    await audit(tx, { actor: actor.id, action: 'identity.linked', target: handle, source: actor.platform, data: { person: `user:${id}` } });
    return (await findPerson(tx.em, id))!;
  });
}

export async function unlinkIdentity({ ctx, actor }: { ctx: CoreContext; actor: Actor }, id: number, handle: string): Promise<PersonRow> {
  await authorize(ctx, actor, 'people.manage', { target: `user:${id}` });
  return transaction(ctx, async (tx) => {
    if (!(await unbindHandle(tx.em, id, handle))) throw new NotFoundError(`Person ${id} has no identity ${handle.slice(0, 60)}.`);
    await audit(tx, { actor: actor.id, action: 'identity.unlinked', target: handle, source: actor.platform, data: { person: `user:${id}` } });
    return (await findPerson(tx.em, id))!;
  });
}
