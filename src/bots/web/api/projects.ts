import { createRoute, z } from '@hono/zod-openapi';
import { readableProjects } from '../../../core/access/reads.js';
import { linkChannelTo, projectChannels, projectList, unlinkChannel } from '../../../core/projects/service.js';
import { NotFoundError } from '../../../core/errors.js';
import { caller, type Api } from './app.js';
import { errors, json, jsonBody, Project, ProjectKey } from './schemas.js';

const Key = z.object({ key: ProjectKey.openapi({ param: { name: 'key', in: 'path' }, example: 'web' }) });
const Channel = z.string().regex(/^(slack|discord|teams):\S{1,200}$/, 'must be a channel like slack:C0123, discord:112233 or teams:19:…@thread.tacv2');
const tags = ['projects'];

const list = createRoute({
  method: 'get',
  path: '/api/v1/projects',
  tags,
  summary: 'Projects you hold a role on, with their linked channels',
  responses: { 200: json(z.object({ projects: z.array(Project) }), 'Projects'), ...errors(401, 403, 429) },
});

const link = createRoute({
  method: 'post',
  path: '/api/v1/projects/{key}/channels',
  tags,
  summary: 'Link a chat channel to the project',
  description: 'Maintainers of the project (and of the project the channel leaves) and admins. Everyone in a linked channel gets the project’s channel role.',
  request: { params: Key, body: jsonBody(z.object({ channel: Channel })) },
  responses: { 201: json(z.object({ project: Project }), 'Linked'), ...errors(400, 401, 403, 404, 429) },
});

const unlink = createRoute({
  method: 'delete',
  path: '/api/v1/projects/{key}/channels/{channel}',
  tags,
  summary: 'Unlink a chat channel from the project',
  request: { params: Key.extend({ channel: Channel.openapi({ param: { name: 'channel', in: 'path' } }) }) },
  responses: { 204: { description: 'Unlinked' }, ...errors(400, 401, 403, 404, 429) },
});

export function registerProjects(api: Api): void {
  api.openapi(list, async (c) => {
    const { ctx, actor } = caller(c);
    const allowed = await readableProjects(ctx, actor);
    const projects = (await projectList(ctx.em)).filter((p) => !allowed || allowed.includes(p.key));
    const withChannels = await Promise.all(projects.map(async (p) => ({ ...p, channels: await projectChannels(ctx.em, p.key) })));
    return c.json({ projects: withChannels }, 200);
  });
  api.openapi(link, async (c) => {
    const { ctx, actor } = caller(c);
    const { key } = c.req.valid('param');
    const project = (await projectList(ctx.em)).find((p) => p.key === key);
    if (!project) throw new NotFoundError(`There is no project "${key}".`);
    await linkChannelTo(ctx, actor, c.req.valid('json').channel, key);
    return c.json({ project: { ...project, channels: await projectChannels(ctx.em, key) } }, 201);
  });
  api.openapi(unlink, async (c) => {
    const { ctx, actor } = caller(c);
    const { key, channel } = c.req.valid('param');
    await unlinkChannel(ctx, actor, channel, key);
    return c.body(null, 204);
  });
}
