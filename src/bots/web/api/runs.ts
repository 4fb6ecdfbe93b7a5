import { createRoute, z } from '@hono/zod-openapi';
import { RUN_KINDS, RUN_STATUSES } from '../../../core/runs/model.js';
import { decidableApprovals, readableEvents, readableRunDetail, readableRuns } from '../../../core/access/reads.js';
import { cancelRun } from '../../../core/commands/run-command.js';
import { decideApproval } from '../../../core/deploys/service.js';
import { caller, type Api } from './app.js';
import { errors, json, ProjectKey, Reason, Run, RunDetail, EventSchema } from './schemas.js';

const Ref = z.object({ ref: z.string().max(64).openapi({ param: { name: 'ref', in: 'path' }, example: 'R-1042' }) });
const tags = ['runs'];

const list = createRoute({
  method: 'get',
  path: '/api/v1/runs',
  tags,
  summary: 'Runs you may see, newest first',
  description: 'Filters combine. Pages: pass `nextCursor` back as `cursor` until it is null.',
  request: {
    query: z.object({
      project: ProjectKey.optional(),
      kind: z.enum(RUN_KINDS).optional(),
      status: z.enum(RUN_STATUSES).optional(),
      requestedBy: z.string().max(200).optional().openapi({ description: 'A handle, e.g. slack:U0123' }),
      limit: z.coerce.number().int().min(1).max(200).default(20),
      cursor: z.string().regex(/^\d{1,18}$/, 'must be a nextCursor from an earlier page').optional(),
    }),
  },
  responses: { 200: json(z.object({ runs: z.array(Run), nextCursor: z.string().nullable() }), 'A page of runs'), ...errors(400, 401, 403, 429) },
});

const one = createRoute({
  method: 'get',
  path: '/api/v1/runs/{ref}',
  tags,
  summary: 'One run, with all its events and its story',
  request: { params: Ref },
  responses: { 200: json(RunDetail, 'The run'), ...errors(400, 401, 403, 404, 429) },
});

const events = createRoute({
  method: 'get',
  path: '/api/v1/runs/{ref}/events',
  tags,
  summary: "A run's events after a sequence number",
  request: { params: Ref, query: z.object({ after: z.coerce.number().int().min(0).default(0) }) },
  responses: { 200: json(z.object({ events: z.array(EventSchema) }), 'Events, in order'), ...errors(400, 401, 403, 404, 429) },
});

const cancel = createRoute({
  method: 'post',
  path: '/api/v1/runs/{ref}/cancel',
  tags,
  summary: 'Cancel a run that has not finished',
  description: 'Its requester, a maintainer of its project, or an admin. A deploy only until GitHub is asked to deploy.',
  request: { params: Ref },
  responses: { 200: json(z.object({ run: Run }), 'The run after the cancel'), ...errors(400, 401, 403, 404, 409, 429) },
});

const decide = (decision: 'approve' | 'reject') =>
  createRoute({
    method: 'post',
    path: `/api/v1/runs/{ref}/${decision}`,
    tags: ['approvals'],
    summary: decision === 'approve' ? 'Approve a deploy waiting for approval' : 'Reject a deploy waiting for approval',
    description: 'The same rules as the chat buttons: the environment’s approvers (or maintainers), never your own deploy when self-approval is prevented, one decision per person.',
    request: { params: Ref, body: { required: false, content: { 'application/json': { schema: Reason } } } },
    responses: {
      200: json(z.object({ run: Run, outcome: z.enum(['recorded', 'approved', 'rejected']) }), 'The decision is recorded'),
      ...errors(400, 401, 403, 404, 409, 429),
    },
  });

const pending = createRoute({
  method: 'get',
  path: '/api/v1/approvals',
  tags: ['approvals'],
  summary: 'Deploys waiting for a decision you may take',
  responses: { 200: json(z.object({ runs: z.array(Run) }), 'Runs waiting for approval'), ...errors(401, 403, 429) },
});

export function registerRuns(api: Api): void {
  api.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const runs = await readableRuns(c.get('ctx'), c.get('auth').actor, {
      ...(q.project && { projectKey: q.project }),
      ...(q.kind && { kind: q.kind }),
      ...(q.status && { status: q.status }),
      ...(q.requestedBy && { requestedBy: q.requestedBy }),
      ...(q.cursor && { beforeId: Number(q.cursor) }),
      limit: q.limit,
    });
    return c.json({ runs, nextCursor: runs.length === q.limit ? String(runs.at(-1)!.id) : null }, 200);
  });
  api.openapi(one, async (c) => c.json(await readableRunDetail(c.get('ctx'), c.get('auth').actor, c.req.valid('param').ref), 200));
  api.openapi(events, async (c) => {
    const list = await readableEvents(c.get('ctx'), c.get('auth').actor, c.req.valid('param').ref, c.req.valid('query').after);
    return c.json({ events: list }, 200);
  });
  api.openapi(cancel, async (c) => c.json({ run: await cancelRun(caller(c), c.req.valid('param').ref) }, 200));
  for (const decision of ['approve', 'reject'] as const) {
    api.openapi(decide(decision), async (c) => {
      const body = c.req.valid('json') as { reason?: string };
      const { run, outcome } = await decideApproval(caller(c), { run: c.req.valid('param').ref, decision, ...(body.reason && { reason: body.reason }) });
      return c.json({ run, outcome }, 200);
    });
  }
  api.openapi(pending, async (c) => {
    const { ctx, actor } = caller(c);
    return c.json({ runs: await decidableApprovals(ctx, actor) }, 200);
  });
}
