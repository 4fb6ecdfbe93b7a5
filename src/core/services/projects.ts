import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProjectConfig } from '../config.js';
import type { Actor, CoreContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { audit } from './audit.js';

/** Projects and channel links from the YAML file are upserted at start; the API may add more. */
export async function syncProjects(em: EntityManager, projects: ProjectConfig[]): Promise<void> {
  const conn = em.getConnection();
  for (const p of projects) {
    await conn.execute(`insert into projects (key, repo) values (?, ?) on conflict (key) do update set repo = excluded.repo`, [
      p.key,
      p.repo ?? null,
    ]);
    for (const channel of p.channels) {
      await conn.execute(
        `insert into channel_links (project_key, channel, created_by) values (?, ?, 'config')
         on conflict (channel) do update set project_key = excluded.project_key`,
        [p.key, channel],
      );
    }
  }
}

/**
 * The project a command is about: the repository it names, or else the project the channel it
 * came from is linked to. `example` shows the person how to name one ("deploy acme/web production").
 */
export async function resolveProject(ctx: Pick<CoreContext, 'em' | 'config'>, actor: Actor, repo: string | undefined, example: string): Promise<ProjectConfig & { repo: string }> {
  let project: ProjectConfig | undefined;
  if (repo) {
    project = ctx.config.projects.find((p) => p.repo === repo);
    if (!project) throw new NotFoundError(`${repo} is not a configured project. Add it to autodevhub.yaml.`);
  } else {
    const rows: Array<{ project_key: string }> = actor.channel
      ? await ctx.em.getConnection().execute(`select project_key from channel_links where channel = ?`, [actor.channel])
      : [];
    project = ctx.config.projects.find((p) => p.key === rows[0]?.project_key);
    if (!project) throw new ValidationError(`This channel is not linked to a project: name the repository, as in "${example}".`);
  }
  if (!project.repo) throw new ValidationError(`Project ${project.key} has no repository configured.`);
  return project as ProjectConfig & { repo: string };
}

/** `link <owner/repo>`: later commands in this channel may leave out the repository. */
export async function linkChannel({ ctx, actor }: { ctx: Pick<CoreContext, 'em' | 'config'>; actor: Actor }, repo: string): Promise<ProjectConfig> {
  if (!actor.channel) throw new ValidationError('Link from a channel: there is no channel here to link.');
  const project = ctx.config.projects.find((p) => p.repo === repo);
  if (!project) throw new NotFoundError(`${repo} is not a configured project. Add it to autodevhub.yaml first.`);
  await ctx.em.getConnection().execute(
    `insert into channel_links (project_key, channel, created_by) values (?, ?, ?)
     on conflict (channel) do update set project_key = excluded.project_key, created_by = excluded.created_by`,
    [project.key, actor.channel, actor.id],
  );
  await audit(ctx, { actor: actor.id, action: 'channel.linked', target: actor.channel, source: actor.channel, data: { project: project.key, repo } });
  return project;
}
