import { createRoute, z } from '@hono/zod-openapi';
import { createPersonWith, linkIdentity, peopleList, personById, previewLinkCode, redeemLinkCode, unlinkIdentity } from '../../../core/access/people.js';
import { signOutEverywhere } from '../../../core/access/sessions.js';
import { principalOf, roleOn } from '../../../core/access/principal.js';
import { caller, type Api, type ApiDeps } from './app.js';
import { errors, json, jsonBody, Me, Person } from './schemas.js';

const tags = ['people'];
const Id = z.object({ id: z.coerce.number().int().min(1).max(2 ** 31).openapi({ param: { name: 'id', in: 'path' } }) });
const Handle = z.string().min(3).max(220).openapi({ example: 'slack:U0123' });
const Ended = z.object({ sessionsEnded: z.number().int() });

const me = createRoute({ method: 'get', path: '/api/v1/me', tags, summary: 'Who you are: identities, roles, scopes', responses: { 200: json(Me, 'You'), ...errors(401, 429) } });
const redeem = createRoute({
  method: 'post',
  path: '/api/v1/me/identities',
  tags,
  summary: 'Join a chat identity to you, with the code from `whoami` in chat',
  description: 'Preview first (`POST /api/v1/me/identities/preview`) and send back the `identity` it showed: a code for another identity is refused (409).',
  request: { body: jsonBody(z.object({ code: z.string().min(10).max(100), identity: z.string().min(3).max(220).optional() })) },
  responses: { 200: json(z.object({ linked: z.string(), platform: z.string(), person: Person }), 'Linked'), ...errors(400, 401, 403, 404, 409, 429) },
});
const preview = createRoute({
  method: 'post',
  path: '/api/v1/me/identities/preview',
  tags,
  summary: 'What a `whoami` code would link: the identity, its platform, and warnings when someone else seems to have asked for it (the code is not used up)',
  request: { body: jsonBody(z.object({ code: z.string().min(10).max(100) })) },
  responses: {
    200: json(z.object({ identity: z.string(), platform: z.string(), displayName: z.string().nullable(), warnings: z.array(z.string()) }), 'What confirming would link'),
    ...errors(400, 401, 403, 404, 429),
  },
});
const signOutMine = createRoute({
  method: 'post',
  path: '/api/v1/me/sign-out-everywhere',
  tags,
  summary: 'End every console session of yours, at once',
  responses: { 200: json(Ended, 'Sessions ended'), ...errors(401, 403, 429) },
});
const list = createRoute({ method: 'get', path: '/api/v1/people', tags, summary: 'People and their identities (admins)', responses: { 200: json(z.object({ people: z.array(Person) }), 'People'), ...errors(401, 403, 429) } });
const create = createRoute({
  method: 'post',
  path: '/api/v1/people',
  tags,
  summary: 'Make a person from identities (admins); an identity of another person is refused (409)',
  request: { body: jsonBody(z.object({ displayName: z.string().max(200).optional(), identities: z.array(Handle).min(1).max(20) })) },
  responses: { 201: json(z.object({ person: Person }), 'The person'), ...errors(400, 401, 403, 409, 429) },
});
const one = createRoute({ method: 'get', path: '/api/v1/people/{id}', tags, summary: 'A person (admins)', request: { params: Id }, responses: { 200: json(z.object({ person: Person }), 'The person'), ...errors(400, 401, 403, 404, 429) } });
const link = createRoute({
  method: 'post',
  path: '/api/v1/people/{id}/identities',
  tags,
  summary: 'Link an identity to a person (admins); an identity of another person is refused (409): unlink it there first',
  request: { params: Id, body: jsonBody(z.object({ handle: Handle })) },
  responses: { 200: json(z.object({ person: Person }), 'The person'), ...errors(400, 401, 403, 404, 409, 429) },
});
const unlink = createRoute({
  method: 'delete',
  path: '/api/v1/people/{id}/identities/{handle}',
  tags,
  summary: 'Unlink an identity from a person (admins)',
  request: { params: Id.extend({ handle: Handle.openapi({ param: { name: 'handle', in: 'path' } }) }) },
  responses: { 200: json(z.object({ person: Person }), 'The person'), ...errors(400, 401, 403, 404, 429) },
});
const signOutTheirs = createRoute({
  method: 'post',
  path: '/api/v1/people/{id}/sign-out-everywhere',
  tags,
  summary: "End every console session of a person, at once (admins)",
  request: { params: Id },
  responses: { 200: json(Ended, 'Sessions ended'), ...errors(400, 401, 403, 404, 429) },
});

export function registerPeople(api: Api, deps: Pick<ApiDeps, 'onSessionsEnded'>): void {
  api.openapi(me, async (c) => {
    const { ctx, actor } = caller(c);
    const p = await principalOf(ctx, actor);
    const roles: Record<string, 'viewer' | 'developer' | 'maintainer'> = Object.fromEntries(ctx.config.projects.flatMap((proj) => (roleOn(p, proj.key) ? [[proj.key, roleOn(p, proj.key)!]] : [])));
    return c.json({ id: actor.id, via: c.get('auth').kind, person: p.userId ? `user:${p.userId}` : null, identities: p.handles, admin: p.admin, roles, groups: p.groups, scopes: (actor.scopes as Array<'read' | 'run' | 'deploy' | 'approve' | 'admin'> | undefined) ?? null }, 200);
  });
  api.openapi(redeem, async (c) => {
    const body = c.req.valid('json');
    const { handle, platform, person } = await redeemLinkCode(caller(c), body.code, body.identity);
    return c.json({ linked: handle, platform, person }, 200);
  });
  api.openapi(preview, async (c) => c.json(await previewLinkCode(caller(c), c.req.valid('json').code), 200));
  const ended = async (ids: number[]) => {
    await deps.onSessionsEnded(ids);
    return { sessionsEnded: ids.length };
  };
  api.openapi(signOutMine, async (c) => c.json(await ended(await signOutEverywhere(caller(c))), 200));
  api.openapi(list, async (c) => c.json({ people: await peopleList(caller(c)) }, 200));
  api.openapi(create, async (c) => c.json({ person: await createPersonWith(caller(c), c.req.valid('json')) }, 201));
  api.openapi(one, async (c) => c.json({ person: await personById(caller(c), c.req.valid('param').id) }, 200));
  api.openapi(link, async (c) => c.json({ person: await linkIdentity(caller(c), c.req.valid('param').id, c.req.valid('json').handle) }, 200));
  api.openapi(unlink, async (c) => {
    const { id, handle } = c.req.valid('param');
    return c.json({ person: await unlinkIdentity(caller(c), id, handle) }, 200);
  });
  api.openapi(signOutTheirs, async (c) => c.json(await ended(await signOutEverywhere(caller(c), c.req.valid('param').id)), 200));
}
