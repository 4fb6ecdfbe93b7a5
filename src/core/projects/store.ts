import { accessChanged } from '../access/epoch.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { ChannelLink, Project } from '../db/entities.js';

/** All reads and writes of projects and channel_links. */

export async function upsertProject(em: EntityManager, key: string, repo: string | null): Promise<void> {
  await em.upsert(Project, { key, repo, createdAt: new Date() }, { onConflictFields: ['key'], onConflictAction: 'merge', onConflictMergeFields: ['repo'] });
}

export async function findProject(em: EntityManager, key: string) {
  return em.findOne(Project, { key }, { disableIdentityMap: true });
}

export async function listProjects(em: EntityManager) {
  return em.find(Project, {}, { orderBy: { key: 'asc' }, disableIdentityMap: true });
}

/** Sets which project a channel belongs to (replacing an earlier link). */
export async function upsertChannelLink(em: EntityManager, channel: string, projectKey: string, createdBy: string): Promise<void> {
  accessChanged();
  await em.upsert(
    ChannelLink,
    { channel, projectKey, createdBy, createdAt: new Date() },
    { onConflictFields: ['channel'], onConflictAction: 'merge', onConflictMergeFields: createdBy === 'config' ? ['projectKey'] : ['projectKey', 'createdBy'] },
  );
}

export async function findChannelLink(em: EntityManager, channel: string) {
  return em.findOne(ChannelLink, { channel }, { disableIdentityMap: true });
}

/** `findChannelLink` for many channels in one query. */
export async function findChannelLinks(em: EntityManager, channels: string[]): Promise<Map<string, { projectKey: string }>> {
  if (channels.length === 0) return new Map();
  const links = await em.find(ChannelLink, { channel: { $in: channels } }, { disableIdentityMap: true });
  return new Map(links.map((l) => [l.channel, l]));
}

export async function channelsOfProject(em: EntityManager, projectKey: string): Promise<string[]> {
  const links = await em.find(ChannelLink, { projectKey }, { orderBy: { channel: 'asc' }, disableIdentityMap: true });
  return links.map((l) => l.channel);
}

export async function deleteChannelLink(em: EntityManager, channel: string, projectKey: string): Promise<boolean> {
  accessChanged();
  return (await em.nativeDelete(ChannelLink, { channel, projectKey })) > 0;
}
