import { createRoute, z } from '@hono/zod-openapi';
import { projectEnvironments } from '../../../core/safety/verbs.js';
import { caller, type Api } from './app.js';
import { errors, json, ProjectKey } from './schemas.js';

/** Deploy safety (issue 27): each environment's lock, freezes and deploy queue. */

const Key = z.object({ key: ProjectKey.openapi({ param: { name: 'key', in: 'path' }, example: 'web' }) });
const Slot = z
  .object({ runId: z.number().int(), ref: z.string(), status: z.string(), stage: z.string().nullable(), requestedBy: z.string(), description: z.string(), createdAt: z.string() })
  .openapi('QueueSlot');
const Lock = z
  .object({ repo: z.string(), environment: z.string(), holder: z.string(), person: z.string(), reason: z.string().nullable(), expiresAt: z.string().nullable(), createdAt: z.string() })
  .openapi('EnvironmentLock');
const EnvironmentState = z
  .object({
    repo: z.string(),
    project: z.string(),
    environment: z.string(),
    timeZone: z.string(),
    lock: Lock.nullable(),
    frozen: z.object({ until: z.string().nullable(), reasons: z.array(z.string()) }).nullable(),
    upcomingFreezes: z.array(z.object({ name: z.string(), start: z.string(), end: z.string() })),
    active: Slot.nullable().openapi({ description: 'The deploy that has the environment (from its request until it finishes, approval included).' }),
    waiting: Slot.nullable().openapi({ description: 'The one deploy waiting for it; a newer request supersedes it.' }),
  })
  .openapi('EnvironmentState');

const route = createRoute({
  method: 'get',
  path: '/api/v1/projects/{key}/environments',
  tags: ['projects'],
  summary: "The project's environments: lock, freeze now and in the next two weeks, the deploy under way and the one waiting",
  request: { params: Key },
  responses: { 200: json(z.object({ environments: z.array(EnvironmentState) }), 'Environments'), ...errors(401, 403, 404, 429) },
});

export function registerEnvironments(api: Api): void {
  api.openapi(route, async (c) => {
    const { ctx, actor } = caller(c);
    return c.json({ environments: await projectEnvironments({ ctx, actor }, c.req.valid('param').key) }, 200);
  });
}
