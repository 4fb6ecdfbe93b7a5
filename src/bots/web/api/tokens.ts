import { createRoute, z } from '@hono/zod-openapi';
import { createWidgetToken, listWidgetTokens, revokeWidgetToken } from '../../../core/access/widget-tokens.js';
import { createApiToken, listApiTokens, revokeApiToken } from '../../../core/access/api-tokens.js';
import { NotFoundError } from '../../../core/errors.js';
import { caller, type Api, type ApiDeps } from './app.js';
import { ApiToken, errors, json, jsonBody, NewApiToken, NewWidgetToken, ProjectKey, Scope, WidgetToken } from './schemas.js';

const widgetTags = ['widget tokens'];
const apiTags = ['API tokens'];

const createWidget = createRoute({
  method: 'post',
  path: '/api/v1/widget-tokens',
  tags: widgetTags,
  summary: 'Make a widget token (read-only live feed of one project, on the origins named)',
  request: {
    body: jsonBody(
      z.object({
        project: ProjectKey,
        origins: z.array(z.string().max(300)).max(20).default([]),
        ttlDays: z.number().int().optional(),
        name: z.string().max(100).optional(),
      }),
    ),
  },
  responses: { 201: json(NewWidgetToken, 'The token, shown once, and the embed snippet'), ...errors(400, 401, 403, 404, 429) },
});

const listWidget = createRoute({
  method: 'get',
  path: '/api/v1/widget-tokens',
  tags: widgetTags,
  summary: 'Widget tokens of the projects you maintain',
  request: { query: z.object({ project: ProjectKey.optional() }) },
  responses: { 200: json(z.object({ tokens: z.array(WidgetToken) }), 'Widget tokens'), ...errors(400, 401, 403, 429) },
});

const revokeWidget = createRoute({
  method: 'delete',
  path: '/api/v1/widget-tokens/{id}',
  tags: widgetTags,
  summary: 'Revoke a widget token; its live widgets are disconnected at once',
  request: { params: z.object({ id: z.string().max(100).openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 204: { description: 'Revoked' }, ...errors(401, 403, 404, 429) },
});

const createApi = createRoute({
  method: 'post',
  path: '/api/v1/tokens',
  tags: apiTags,
  summary: 'Make a personal API token (shown once)',
  description: 'The token acts as you, limited to its scopes: read, run (stories, docs), deploy, approve, admin. Use it as `Authorization: Bearer adh_…`.',
  request: { body: jsonBody(z.object({ name: z.string().min(1).max(100), scopes: z.array(Scope).min(1), ttlDays: z.number().int().min(1).max(366).optional() })) },
  responses: { 201: json(NewApiToken, 'The token, shown once'), ...errors(400, 401, 403, 429) },
});

const listApi = createRoute({
  method: 'get',
  path: '/api/v1/tokens',
  tags: apiTags,
  summary: 'Your API tokens (everyone’s with all=true, for admins)',
  request: { query: z.object({ all: z.enum(['true', 'false']).optional() }) },
  responses: { 200: json(z.object({ tokens: z.array(ApiToken) }), 'API tokens, without their secrets'), ...errors(400, 401, 403, 429) },
});

const revokeApi = createRoute({
  method: 'delete',
  path: '/api/v1/tokens/{id}',
  tags: apiTags,
  summary: 'Revoke an API token (yours, or anyone’s for an admin)',
  request: { params: z.object({ id: z.coerce.number().int().min(1).max(2 ** 53).openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 204: { description: 'Revoked' }, ...errors(400, 401, 403, 404, 429) },
});

export function registerTokens(api: Api, deps: Pick<ApiDeps, 'secret' | 'onTokenRevoked'>): void {
  api.openapi(createWidget, async (c) => {
    const body = c.req.valid('json');
    const { token, info } = await createWidgetToken(
      { ...caller(c), secret: deps.secret },
      { projectKey: body.project, origins: body.origins, ...(body.ttlDays !== undefined && { ttlDays: body.ttlDays }), ...(body.name && { name: body.name }) },
    );
    const base = new URL(c.req.url).origin;
    const snippet = `<script src="${base}/widget.js" data-project="${info.projectKey}" data-token="${token}" async></script>`;
    return c.json({ token, ...info, snippet }, 201);
  });
  api.openapi(listWidget, async (c) => c.json({ tokens: await listWidgetTokens(caller(c), c.req.valid('query').project) }, 200));
  api.openapi(revokeWidget, async (c) => {
    const { id } = c.req.valid('param');
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError(`There is no widget token ${id.slice(0, 40)}.`);
    await revokeWidgetToken(caller(c), id);
    await deps.onTokenRevoked(id);
    return c.body(null, 204);
  });

  api.openapi(createApi, async (c) => {
    const body = c.req.valid('json');
    const { token, info } = await createApiToken(caller(c), { name: body.name, scopes: body.scopes, ...(body.ttlDays !== undefined && { ttlDays: body.ttlDays }) });
    return c.json({ ...info, token }, 201);
  });
  api.openapi(listApi, async (c) => c.json({ tokens: await listApiTokens(caller(c), { all: c.req.valid('query').all === 'true' }) }, 200));
  api.openapi(revokeApi, async (c) => {
    const { id } = c.req.valid('param');
    await revokeApiToken(caller(c), id);
    // Its live-feed sockets (the CLI's watch) are in room token:api:<id>: closed on every web process.
    await deps.onTokenRevoked(`api:${id}`);
    return c.body(null, 204);
  });
}
