import type { EntityManager } from '@mikro-orm/postgresql';
import type { ProjectConfig } from '../config.js';
import type { Actor, CoreContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { authorize } from '../access/authorize.js';
import { channelsOfProject, deleteChannelLink, findChannelLink, findProject, listProjects, upsertChannelLink, upsertProject } from './store.js';

/** Projects and channel links from the YAML file are upserted at start; the API may add more. */
export async function syncProjects(em: EntityManager, projects: ProjectConfig[]): Promise<void> {
  for (const p of projects) {
    await upsertProject(em, p.key, p.repo ?? null);
    for (const channel of p.channels) await upsertChannelLink(em, channel, p.key, 'config');
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
    const link = actor.channel ? await findChannelLink(ctx.em, actor.channel) : null;
    project = ctx.config.projects.find((p) => p.key === link?.projectKey);
    if (!project) {
      // The console, the API and the CLI have no channel to take a project from.
      const where = actor.channel ? 'This channel is not linked to a project' : 'There is no channel here to take the project from';
      throw new ValidationError(`${where}: name the repository, as in "${example}".`);
    }
  }
  if (!project.repo) throw new ValidationError(`Project ${project.key} has no repository configured.`);
  return project as ProjectConfig & { repo: string };
}

/**
 * `link <owner/repo>`: later commands in this channel may leave out the repository. Linking a
 * channel gives everyone in it the project's channel role, so it needs a maintainer of the project
 * (and of the project the channel leaves).
 */
export async function linkChannel({ ctx, actor }: { ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>; actor: Actor }, repo: string): Promise<ProjectConfig> {
  const channel = actor.channel;
  if (!channel || actor.direct) throw new ValidationError('Link from a channel: a direct message cannot be linked to a project.');
  const project = ctx.config.projects.find((p) => p.repo === repo);
  if (!project) throw new NotFoundError(`${repo} is not a configured project. Add it to autodevhub.yaml first.`);
  await linkChannelTo(ctx, actor, channel, project.key);
  return project;
}

/** Links `channel` to a project (chat `link`, the console and the API). */
export async function linkChannelTo(ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>, actor: Actor, channel: string, projectKey: string): Promise<void> {
  const previous = (await findChannelLink(ctx.em, channel))?.projectKey;
  await authorize(ctx, actor, 'channel.link', { project: projectKey, target: channel });
  if (previous && previous !== projectKey) await authorize(ctx, actor, 'channel.link', { project: previous, target: channel });
  await transaction(ctx, async (tx) => {
    await upsertChannelLink(tx.em, channel, projectKey, actor.id);
    await audit(tx, { actor: actor.id, action: 'channel.linked', target: channel, source: actor.channel ?? actor.platform, data: { project: projectKey, previous: previous ?? null } });
  });
}

/** Removes a channel's link (the console and the API); links from autodevhub.yaml come back at the next start. */
export async function unlinkChannel(ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>, actor: Actor, channel: string, projectKey: string): Promise<void> {
  await authorize(ctx, actor, 'channel.link', { project: projectKey, target: channel });
  const removed = await transaction(ctx, async (tx) => {
    if (!(await deleteChannelLink(tx.em, channel, projectKey))) return false;
    await audit(tx, { actor: actor.id, action: 'channel.unlinked', target: channel, source: actor.channel ?? actor.platform, data: { project: projectKey } });
    return true;
  });
  if (!removed) throw new NotFoundError(`${channel} is not linked to ${projectKey}.`);
}

export async function projectChannels(em: EntityManager, projectKey: string): Promise<string[]> {
  return channelsOfProject(em, projectKey);
}

export async function findProjectByKey(em: EntityManager, key: string): Promise<{ key: string; repo: string | null } | undefined> {
  const p = await findProject(em, key);
  return p ? { key: p.key, repo: p.repo ?? null } : undefined;
}

export async function projectList(em: EntityManager): Promise<Array<{ key: string; repo: string | null }>> {
  return (await listProjects(em)).map((p) => ({ key: p.key, repo: p.repo ?? null }));
}
