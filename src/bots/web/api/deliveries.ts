import { createRoute, z } from '@hono/zod-openapi';
import { exportStory, storyExports } from '../../../core/exports/service.js';
import { listWebhookDeliveries, redeliverWebhook } from '../../../core/notify/service.js';
import { readStory } from '../../../core/stories/service.js';
import { findRunByRef } from '../../../core/runs/queries.js';
import { NotFoundError } from '../../../core/errors.js';
import { caller, type Api } from './app.js';
import { errors, json, ProjectKey, StoryExport } from './schemas.js';

const Id = z.object({ id: z.coerce.number().int().min(1).max(2 ** 53).openapi({ param: { name: 'id', in: 'path' }, example: 12 }) });

const WebhookDelivery = z
  .looseObject({ id: z.number().int(), projectKey: z.string(), url: z.string(), state: z.string(), attempts: z.number().int() })
  .openapi('WebhookDelivery');

const exportTo = (kind: 'issue' | 'pull_request', path: string, summary: string) =>
  createRoute({
    method: 'post',
    path,
    tags: ['stories'],
    summary,
    request: { params: Id },
    responses: {
      201: json(z.object({ export: StoryExport, created: z.literal(true) }), 'Made now'),
      200: json(z.object({ export: StoryExport, created: z.literal(false) }), 'Made earlier for this story version'),
      ...errors(400, 401, 403, 404, 409, 429, 503),
    },
  });
const toIssue = exportTo('issue', '/api/v1/stories/{id}/issue', "File the story in the project's issue tracker (once per story version)");
const toPr = exportTo('pull_request', '/api/v1/stories/{id}/pull-request', 'Open a pull request with the story as a .feature file (once per story version)');
const listExports = createRoute({
  method: 'get',
  path: '/api/v1/stories/{id}/exports',
  tags: ['stories'],
  summary: "The story's issues and pull requests",
  request: { params: Id },
  responses: { 200: json(z.object({ exports: z.array(StoryExport) }), 'Exports'), ...errors(400, 401, 403, 404, 429) },
});

const listDeliveries = createRoute({
  method: 'get',
  path: '/api/v1/webhook-deliveries',
  tags: ['webhooks'],
  summary: 'Outgoing webhook deliveries, newest first',
  request: { query: z.object({ project: ProjectKey.optional(), run: z.string().regex(/^[Rr]-?\d{1,9}$/).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: { 200: json(z.object({ deliveries: z.array(WebhookDelivery) }), 'Deliveries'), ...errors(400, 401, 403, 404, 429) },
});
const redeliver = createRoute({
  method: 'post',
  path: '/api/v1/webhook-deliveries/{id}/redeliver',
  tags: ['webhooks'],
  summary: 'Deliver the same event again, as a new delivery',
  request: { params: Id },
  responses: { 202: json(z.object({ delivery: WebhookDelivery }), 'Queued'), ...errors(400, 401, 403, 404, 409, 429) },
});

/** Stories into trackers and repositories, and outgoing webhook deliveries. */
export function registerDeliveries(api: Api): void {
  for (const [route, kind] of [[toIssue, 'issue'], [toPr, 'pull_request']] as const) {
    api.openapi(route, async (c) => {
      const done = await exportStory(caller(c), { storyId: c.req.valid('param').id, kind });
      return done.created ? c.json({ export: done.export, created: true as const }, 201) : c.json({ export: done.export, created: false as const }, 200);
    });
  }
  api.openapi(listExports, async (c) => {
    const id = c.req.valid('param').id;
    await readStory(caller(c), id);
    return c.json({ exports: await storyExports(c.get('ctx'), id) }, 200);
  });
  api.openapi(listDeliveries, async (c) => {
    const q = c.req.valid('query');
    const ctx = c.get('ctx');
    const run = q.run ? await findRunByRef(ctx.em, q.run) : undefined;
    if (q.run && !run) throw new NotFoundError(`There is no run ${q.run}.`);
    return c.json({ deliveries: await listWebhookDeliveries(caller(c), { ...(q.project && { projectKey: q.project }), ...(run && { runId: run.id }), limit: q.limit }) }, 200);
  });
  api.openapi(redeliver, async (c) => c.json({ delivery: await redeliverWebhook(caller(c), c.req.valid('param').id) }, 202));
}
