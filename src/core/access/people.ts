import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AccessConfig } from '../config.js';
import type { Actor, CoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { authorize } from './authorize.js';
import { principalOf, roleOn } from './principal.js';
import { bindHandle, consumeToken, createPerson, findPerson, findToken, insertToken, linkHandles, listPeople, personOfHandle, setDisplayName, unbindHandle, userIdOf, type PersonRow } from './store.js';

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
const PLATFORM_NAMES: Record<string, string> = { slack: 'Slack', discord: 'Discord', teams: 'Microsoft Teams', github: 'GitHub', web: 'the console', sso: 'single sign-on', email: 'email' };
const platformName = (handle: string) => PLATFORM_NAMES[handle.split(':')[0]!] ?? handle.split(':')[0]!;

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
    // The chat name is kept with the code, so the console can show whose identity it joins.
    await insertToken(ctx.em, { kind: 'link', tokenHash: hash(code), subject: actor.id, name: actor.displayName?.slice(0, 200) ?? null, expiresAt: new Date(Date.now() + LINK_TTL_MS) });
    lines.push(`To join ${actor.id} (${platformName(actor.id)}) to your console account, open ${ctx.config.publicUrl}/link?code=${code} while signed in, within 10 minutes. Use only a link you asked for yourself.`);
  }
  return lines.join('\n');
}

/** The person a console actor is, made when they have none yet. */
async function personFor(em: EntityManager, handle: string): Promise<number> {
  const { userId } = await personOfHandle(em, handle);
  if (userId) return userId;
  return linkHandles(em, [handle]);
}

export interface LinkPreview {
  /** The chat identity the link joins to the signed-in person, e.g. slack:U0123. */
  identity: string;
  /** Its platform, by name (Slack, Discord, Microsoft Teams). */
  platform: string;
  /** Its name in chat when whoami was asked, if the platform said. */
  displayName: string | null;
  /** Reasons to think someone else asked for this link; empty when nothing looks wrong. */
  warnings: string[];
}

const INVALID_LINK = 'This link is invalid, expired or already used: type whoami in chat for a new one.';

/**
 * What opening a `whoami` link would do, before it is done: which identity, on which platform,
 * and warnings when it looks asked for from someone else's chat account (the identity is another
 * person's, or the signed-in person already has a different identity on that platform). The code
 * is not used up.
 */
export async function previewLinkCode({ ctx, actor }: { ctx: CoreContext; actor: Actor }, code: string): Promise<LinkPreview> {
  await authorize(ctx, actor, 'whoami');
  if (actor.platform !== 'web') throw new ValidationError('Open the link in the console, signed in as yourself.');
  const token = await findToken(ctx.em, 'link', hash(code));
  if (!token || token.usedAt || token.revokedAt || (token.expiresAt && token.expiresAt.getTime() <= Date.now())) throw new NotFoundError(INVALID_LINK);
  return linkPreview(ctx.em, actor, token.subject, token.name ?? null);
}

async function linkPreview(em: EntityManager, actor: Actor, handle: string, displayName: string | null): Promise<LinkPreview> {
  const platform = handle.split(':')[0]!;
  const [theirs, mine] = await Promise.all([personOfHandle(em, handle), personOfHandle(em, actor.id)]);
  const warnings: string[] = [];
  if (theirs.userId && theirs.userId !== mine.userId) {
    warnings.push(`${handle} already belongs to another person (user:${theirs.userId}). If you did not type whoami there yourself, someone else asked for this link: do not link it.`);
  }
  const sameKind = mine.handles.filter((h) => h !== handle && h.startsWith(`${platform}:`));
  if (sameKind.length) {
    warnings.push(`You already have ${sameKind.join(', ')} on ${platformName(handle)}; this link is for a different ${platformName(handle)} account, ${handle}. It was probably asked for by someone else: link it only if that account is also yours.`);
  }
  return { identity: handle, platform: platformName(handle), displayName, warnings };
}

/**
 * Opening a `whoami` link while signed in: the chat identity joins the signed-in person.
 * `expected`: the identity the confirmation showed; a link for another one is refused.
 */
export async function redeemLinkCode({ ctx, actor }: { ctx: CoreContext; actor: Actor }, code: string, expected?: string): Promise<{ handle: string; platform: string; person: PersonRow }> {
  await authorize(ctx, actor, 'whoami');
  if (actor.platform !== 'web') throw new ValidationError('Open the link in the console, signed in as yourself.');
  return transaction(ctx, async (tx) => {
    const handle = await consumeToken(tx.em, 'link', hash(code));
    if (!handle) throw new NotFoundError(INVALID_LINK);
    if (expected !== undefined && expected !== handle) throw new ConflictError(`This link joins ${handle}, not ${expected.slice(0, 60)}; nothing was linked.`);
    const theirs = await personOfHandle(tx.em, handle);
    const userId = await personFor(tx.em, actor.id);
    // Moving an identity away from another person with identities of their own is an admin's call.
    if (theirs.userId && theirs.userId !== userId && theirs.handles.length > 1) {
      throw new ConflictError(`${handle} already belongs to another person; ask an admin to move it.`);
    }
    await bindHandle(tx.em, userId, handle);
    await audit(tx, { actor: actor.id, action: 'identity.linked', target: handle, source: 'web', data: { person: `user:${userId}`, via: 'whoami link' } });
    return { handle, platform: platformName(handle), person: (await findPerson(tx.em, userId))! };
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
