import { createRoute, z } from '@hono/zod-openapi';
import { grantRole, removeGrant, roleGrants } from '../../../core/access/grants.js';
import { permissionMatrix, SCOPES } from '../../../core/access/actions.js';
import { caller, type Api } from './app.js';
import { errors, Grant, json, jsonBody } from './schemas.js';

const tags = ['roles'];
const Level = z.enum(['everyone', 'viewer', 'developer', 'maintainer', 'admin']);

const matrix = createRoute({
  method: 'get',
  path: '/api/v1/roles/matrix',
  tags,
  summary: 'The permission matrix: every action, the least role it needs, and the token scope',
  responses: {
    200: json(z.object({ roles: z.array(Level), scopes: z.array(z.enum(SCOPES)), actions: z.array(z.object({ action: z.string(), min: Level, scope: z.enum(SCOPES).nullable(), what: z.string(), notes: z.array(z.string()) })) }), 'The matrix'),
    ...errors(401, 429),
  },
});
const grants = createRoute({
  method: 'get',
  path: '/api/v1/roles/grants',
  tags,
  summary: 'Who holds which role: from autodevhub.yaml and granted at run time (admins)',
  responses: {
    200: json(z.object({ file: z.array(z.object({ principal: z.string(), projectKey: z.string(), role: z.string() })), runtime: z.array(Grant) }), 'Grants'),
    ...errors(401, 403, 429),
  },
});
const grant = createRoute({
  method: 'post',
  path: '/api/v1/roles/grants',
  tags,
  summary: 'Grant a role (admins); replaces the principal’s role on that project',
  request: {
    body: jsonBody(
      z.object({
        principal: z.string().max(220).openapi({ description: 'slack:U0123, user:12 or group:platform', example: 'slack:U0123' }),
        project: z.string().max(64).openapi({ description: 'A project key, or "*" with role admin', example: 'web' }),
        role: z.enum(['viewer', 'developer', 'maintainer', 'admin']),
      }),
    ),
  },
  responses: { 201: json(z.object({ grant: Grant }), 'Granted'), ...errors(400, 401, 403, 404, 429) },
});
const revoke = createRoute({
  method: 'delete',
  path: '/api/v1/roles/grants/{id}',
  tags,
  summary: 'Remove a run-time grant (admins)',
  request: { params: z.object({ id: z.coerce.number().int().min(1).max(2 ** 31).openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 204: { description: 'Removed' }, ...errors(400, 401, 403, 404, 429) },
});

export function registerRoles(api: Api): void {
  api.openapi(matrix, (c) => c.json({ roles: Level.options, scopes: [...SCOPES], actions: permissionMatrix() }, 200));
  api.openapi(grants, async (c) => c.json(await roleGrants(caller(c)), 200));
  api.openapi(grant, async (c) => c.json({ grant: await grantRole(caller(c), c.req.valid('json')) }, 201));
  api.openapi(revoke, async (c) => {
    await removeGrant(caller(c), c.req.valid('param').id);
    return c.body(null, 204);
  });
}
