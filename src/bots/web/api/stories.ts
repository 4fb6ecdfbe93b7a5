import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { acceptStory, readStory, regenerateStory } from '../../../core/stories/service.js';
import { caller, type Api } from './app.js';
import { errors, json, Run, Story } from './schemas.js';

const Id = z.object({ id: z.coerce.number().int().min(1).max(2 ** 53).openapi({ param: { name: 'id', in: 'path' }, example: 12 }) });
const tags = ['stories'];

const read = createRoute({
  method: 'get',
  path: '/api/v1/stories/{id}',
  tags,
  summary: 'A user story',
  request: { params: Id },
  responses: { 200: json(z.object({ story: Story }), 'The story'), ...errors(400, 401, 403, 404, 429) },
});

const accept = createRoute({
  method: 'post',
  path: '/api/v1/stories/{id}/accept',
  tags,
  summary: 'Accept a story (once; the same rule as the chat button)',
  request: { params: Id },
  responses: { 200: json(z.object({ story: Story }), 'Accepted'), ...errors(400, 401, 403, 404, 409, 429) },
});

const regenerate = createRoute({
  method: 'post',
  path: '/api/v1/stories/{id}/regenerate',
  tags,
  summary: 'Write a new version of a story (a new run)',
  request: { params: Id },
  responses: { 202: json(z.object({ run: Run, queued: z.boolean() }), 'The new run is queued'), ...errors(400, 401, 403, 404, 409, 429, 503) },
});

export function registerStories(api: Api): void {
  api.openapi(read, async (c) => c.json({ story: await readStory(caller(c), c.req.valid('param').id) }, 200));
  api.openapi(accept, async (c) => c.json({ story: await acceptStory(caller(c), c.req.valid('param').id) }, 200));
  api.openapi(regenerate, async (c) => {
    const created = await regenerateStory(caller(c), c.req.valid('param').id, { deliveryId: `api:${randomUUID()}` });
    return c.json({ run: created.run, queued: created.queued }, 202);
  });
}
