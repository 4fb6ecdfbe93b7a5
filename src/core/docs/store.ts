import type { EntityManager } from '@mikro-orm/postgresql';
import { Documentation } from '../db/entities.js';

/** All reads and writes of documentation. */

/** The head commit the project's last documentation update covered. */
export async function lastDocumentedHead(em: EntityManager, projectKey: string): Promise<string | undefined> {
  const last = await em.findOne(Documentation, { projectKey }, { orderBy: { id: 'desc' }, disableIdentityMap: true });
  const head = last?.versionInfo.head;
  return typeof head === 'string' ? head : undefined;
}

/** One documentation record per run. */
export async function recordDocumentation(
  em: EntityManager,
  doc: { runId: number; projectKey: string; docType: string; title: string; content: string; filePath: string; versionInfo: Record<string, unknown> },
): Promise<void> {
  await em.upsert(Documentation, { ...doc, createdAt: new Date() } as never, { onConflictFields: ['runId'], onConflictAction: 'ignore', disableIdentityMap: true } as never);
}
