import type { Actor, CoreContext } from '../context.js';
import { ServiceUnavailableError } from '../errors.js';
import { isConnectionError } from '../runs/intake.js';
import { findChannelLinks } from '../projects/store.js';
import { PROJECT_ROLES } from '../config-file.js';
import { ROLE_RANK, type Role } from './actions.js';
import { grantsFor, personsOfHandles, type GrantRow } from './store.js';
import { accessEpoch, RecentAccess } from './epoch.js';

/**
 * Who an actor is, as the access check sees it: every handle of their person, the people and
 * groups of autodevhub.yaml they are, the roles granted to any of those (file and run time), and
 * the project of the channel they speak in. Resolved once per actor object (one request).
 */
export interface Principal {
  handle: string;
  /** `user:<id>` when the handle is linked to a person, else the handle. */
  person: string;
  userId: number | undefined;
  handles: string[];
  /** Everything a grant may name that this actor is: handles, person names, user:<id>, group:<g>, "*". */
  tags: Set<string>;
  groups: string[];
  admin: boolean;
  /** Roles granted explicitly (file or run time), per project key. */
  roles: Map<string, Role>;
  /** The project the actor's channel is linked to, and the role that gives in it. */
  channel: { projectKey: string; role: Role | 'none' } | undefined;
}

const cache = new WeakMap<Actor, Promise<Principal>>();

/**
 * How long a resolved principal is reused for the same person in the same channel. Writes in
 * this process (identities, grants, channel links) end it at once (epoch.ts); a change made by
 * another process is seen here within this time. It saves three queries on every command.
 */
export const PRINCIPAL_TTL_MS = 2000;
/** Per configuration (one per app: tests run several apps in one process). */
const recentByConfig = new WeakMap<object, RecentAccess<Promise<Principal>>>();

function recentKey(actor: Actor): string {
  return [actor.id, actor.channel ?? '', actor.direct ? 'd' : '', (actor.groups ?? []).join(',')].join('\u0000');
}

/** Who asks cannot be known while the database is down: said the way every other outage is said. */
export function unlessDatabaseDown<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (isConnectionError(err)) throw new ServiceUnavailableError('Nothing was queued: the database is not answering. Please try again in a minute.');
    throw err;
  });
}

export function principalOf(ctx: Pick<CoreContext, 'em' | 'config'>, actor: Actor): Promise<Principal> {
  let p = cache.get(actor);
  if (!p) {
    p = recentPrincipal(ctx, actor);
    cache.set(actor, p);
  }
  return p;
}

function recentPrincipal(ctx: Pick<CoreContext, 'em' | 'config'>, actor: Actor): Promise<Principal> {
  let recent = recentByConfig.get(ctx.config);
  if (!recent) recentByConfig.set(ctx.config, (recent = new RecentAccess(PRINCIPAL_TTL_MS)));
  const key = recentKey(actor);
  const hit = recent.get(key);
  if (hit) return hit;
  const resolvedAt = accessEpoch();
  const principal = unlessDatabaseDown(resolveTogether(ctx, actor));
  recent.set(key, principal, resolvedAt);
  principal.catch(() => {
    recent.delete(key, principal);
    cache.delete(actor);
  });
  return principal;
}

function higher(a: Role | undefined, b: Role | undefined): Role | undefined {
  if (!a) return b;
  if (!b) return a;
  return ROLE_RANK[a] >= ROLE_RANK[b] ? a : b;
}

interface Asked {
  actor: Actor;
  resolve(p: Principal): void;
  reject(err: unknown): void;
}
/** Actors asked for in this turn of the event loop, per configuration: resolved with one set of queries. */
const waiting = new WeakMap<object, { ctx: Pick<CoreContext, 'em' | 'config'>; asked: Asked[] }>();

/**
 * Principals asked for together (commands of many people arriving at once) are read together:
 * three queries for the group instead of three per command.
 */
function resolveTogether(ctx: Pick<CoreContext, 'em' | 'config'>, actor: Actor): Promise<Principal> {
  // Inside a transaction the reads belong to it (they may see its own writes): alone.
  if (ctx.em.isInTransaction()) {
    return new Promise<Principal>((resolve, reject) => {
      resolveAll(ctx, [{ actor, resolve, reject }]).catch(reject);
    });
  }
  let group = waiting.get(ctx.config);
  if (!group) {
    const g = (group = { ctx, asked: [] as Asked[] });
    waiting.set(ctx.config, g);
    setImmediate(() => {
      waiting.delete(ctx.config);
      resolveAll(g.ctx, g.asked).catch((err: unknown) => g.asked.forEach((a) => a.reject(err)));
    });
  }
  return new Promise<Principal>((resolve, reject) => group.asked.push({ actor, resolve, reject }));
}

async function resolveAll(ctx: Pick<CoreContext, 'em' | 'config'>, asked: Asked[]): Promise<void> {
  const handles = [...new Set(asked.map((a) => a.actor.id))];
  const channels = [...new Set(asked.flatMap((a) => (a.actor.channel && !a.actor.direct ? [a.actor.channel] : [])))];
  const [persons, links] = await Promise.all([personsOfHandles(ctx.em, handles), findChannelLinks(ctx.em, channels)]);
  const tagsOf = asked.map((a) => tagsFor(ctx, a.actor, persons.get(a.actor.id)!));
  const grants = await grantsFor(ctx.em, [...new Set(tagsOf.flatMap((t) => [...t.tags]))]);
  asked.forEach((a, i) => {
    const link = a.actor.channel && !a.actor.direct ? links.get(a.actor.channel) : undefined;
    a.resolve(principalFrom(ctx, a.actor, tagsOf[i]!, grants, link));
  });
}

function tagsFor(ctx: Pick<CoreContext, 'config'>, actor: Actor, { userId, handles }: { userId: number | undefined; handles: string[] }) {
  const { access } = ctx.config;
  const tags = new Set<string>(['*', ...handles, ...(userId ? [`user:${userId}`] : [])]);
  for (const [name, person] of Object.entries(access.people)) if (person.identities.some((h) => tags.has(h))) tags.add(name);
  const groups = Object.entries(access.groups)
    .filter(([, g]) => g.members.some((m) => tags.has(m)) || g.sso.some((s) => actor.groups?.includes(s)))
    .map(([name]) => name);
  for (const g of groups) tags.add(`group:${g}`);
  return { userId, handles, tags, groups };
}

function principalFrom(ctx: Pick<CoreContext, 'config'>, actor: Actor, who: ReturnType<typeof tagsFor>, allGrants: GrantRow[], link: { projectKey: string } | undefined): Principal {
  const { projects, admins } = ctx.config;
  const { userId, handles, tags, groups } = who;
  const grants = allGrants.filter((g) => tags.has(g.principal));
  const roles = new Map<string, Role>();
  for (const project of projects) {
    let role: Role | undefined;
    for (const r of PROJECT_ROLES) if ((project.roles[r] ?? []).some((t) => tags.has(t))) role = higher(role, r);
    if (role) roles.set(project.key, role);
  }
  for (const g of grants) {
    if (g.role === 'admin') continue;
    const keys = g.projectKey === '*' ? projects.map((p) => p.key) : [g.projectKey];
    for (const key of keys) {
      const role = higher(roles.get(key), g.role);
      if (role) roles.set(key, role);
    }
  }
  const admin = admins.some((a) => a !== '*' && tags.has(a)) || grants.some((g) => g.role === 'admin' && g.projectKey === '*');
  const linked = link ? projects.find((p) => p.key === link.projectKey) : undefined;
  return {
    handle: actor.id,
    person: userId ? `user:${userId}` : actor.id,
    userId,
    handles,
    tags,
    groups,
    admin,
    roles,
    channel: linked ? { projectKey: linked.key, role: linked.channel_role } : undefined,
  };
}

/** The role an actor has on a project: the highest of their grants and their channel's. */
export function roleOn(principal: Principal, projectKey: string): Role | undefined {
  const viaChannel = principal.channel?.projectKey === projectKey && principal.channel.role !== 'none' ? principal.channel.role : undefined;
  return higher(principal.roles.get(projectKey), viaChannel);
}

/** Same person: one of their handles (linked across platforms) is `handle`. */
export function isSamePerson(principal: Principal, handle: string): boolean {
  return principal.handles.includes(handle);
}
