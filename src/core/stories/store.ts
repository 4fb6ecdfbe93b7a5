import type { EntityManager } from '@mikro-orm/postgresql';
import type { InferEntity } from '@mikro-orm/core';
import { UserStory } from '../db/entities.js';

/** All reads and writes of user_stories. */

export interface StoryRecord {
  id: number;
  runId: number;
  featureDescription: string;
  gherkin: string;
  confidenceScore: number;
  status: 'draft' | 'accepted' | 'superseded';
  provider: string;
  model: string;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number;
  cached: boolean;
  version: number;
  parentId: number | null;
  acceptedBy: string | null;
  acceptedAt: string | null;
  metadata: Record<string, unknown>;
  /** What the description leaves undecided, listed under the story. */
  openQuestions: string[];
  cacheReadTokens: number | null;
  cacheWriteTokens: number | null;
  /** US dollars at list price, when the model's price is known. */
  costUsd: number | null;
}

type Row = InferEntity<typeof UserStory> & { parentId?: number | null };

function toStory(r: Row): StoryRecord {
  return {
    id: Number(r.id),
    runId: Number(r.runId),
    featureDescription: r.featureDescription,
    gherkin: r.gherkin,
    confidenceScore: Number(r.confidenceScore),
    status: r.status,
    provider: r.provider,
    model: r.model,
    inputTokens: r.inputTokens ?? null,
    outputTokens: r.outputTokens ?? null,
    latencyMs: Number(r.latencyMs),
    cached: Boolean(r.cached),
    version: Number(r.version),
    parentId: r.parentId == null ? null : Number(r.parentId),
    acceptedBy: r.acceptedBy ?? null,
    acceptedAt: r.acceptedAt ? new Date(r.acceptedAt).toISOString() : null,
    metadata: (r.metadata as Record<string, unknown> | null) ?? {},
    openQuestions: (r.openQuestions as string[] | null) ?? [],
    cacheReadTokens: r.cacheReadTokens ?? null,
    cacheWriteTokens: r.cacheWriteTokens ?? null,
    costUsd: r.costUsd == null ? null : Number(r.costUsd),
  };
}

const fresh = { disableIdentityMap: true } as const;

export async function findStoryByRun(em: EntityManager, runId: number): Promise<StoryRecord | undefined> {
  const row = await em.findOne(UserStory, { runId }, fresh);
  return row ? toStory(row as Row) : undefined;
}

export async function findStory(em: EntityManager, id: number): Promise<StoryRecord | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const row = await em.findOne(UserStory, { id }, fresh);
  return row ? toStory(row as Row) : undefined;
}

export type NewStory = Omit<StoryRecord, 'id' | 'status' | 'version' | 'acceptedBy' | 'acceptedAt'> & { normalizedKey: string };

/**
 * Stores a run's story once: a second insert for the same run (a retried job) keeps the first.
 * A new version of a story is its parent's version + 1.
 */
export async function insertStory(em: EntityManager, story: NewStory): Promise<StoryRecord> {
  const parent = story.parentId ? await findStory(em, story.parentId) : undefined;
  // on conflict (run_id) do nothing: another attempt stored this run's story first.
  await em.upsert(
    UserStory,
    {
      runId: story.runId,
      featureDescription: story.featureDescription,
      normalizedKey: story.normalizedKey,
      gherkin: story.gherkin,
      confidenceScore: story.confidenceScore,
      status: 'draft',
      provider: story.provider,
      model: story.model,
      inputTokens: story.inputTokens,
      outputTokens: story.outputTokens,
      latencyMs: story.latencyMs,
      cached: story.cached,
      version: (parent?.version ?? 0) + 1,
      parentId: story.parentId,
      metadata: story.metadata,
      openQuestions: story.openQuestions,
      cacheReadTokens: story.cacheReadTokens,
      cacheWriteTokens: story.cacheWriteTokens,
      costUsd: story.costUsd,
      createdAt: new Date(),
    } as never,
    { onConflictFields: ['runId'], onConflictAction: 'ignore', disableIdentityMap: true } as never,
  );
  const stored = await findStoryByRun(em, story.runId);
  if (!stored) throw new Error(`story for run ${story.runId} was neither inserted nor found`);
  return stored;
}

/** A draft replaced by a newer version. */
export async function supersedeStory(em: EntityManager, id: number): Promise<void> {
  await em.nativeUpdate(UserStory, { id, status: 'draft' }, { status: 'superseded' });
}

/** Accepts a draft, atomically: of two clicks, one changes the row. */
export async function acceptDraft(em: EntityManager, id: number, by: string): Promise<boolean> {
  return (await em.nativeUpdate(UserStory, { id, status: 'draft' }, { status: 'accepted', acceptedBy: by, acceptedAt: new Date() })) === 1;
}

/** Remembers which chat message shows the story. */
export async function setStoryMessageRef(em: EntityManager, id: number, ref: string): Promise<void> {
  await em.execute(`update user_stories set metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('messageRef', ?::text) where id = ?`, [ref, id]);
}

/** The project's accepted stories, newest first: examples of what the team keeps. */
export async function acceptedStoriesOf(em: EntityManager, projectKey: string, limit = 3): Promise<Array<{ description: string; gherkin: string }>> {
  const rows: Array<{ feature_description: string; gherkin: string }> = await em.execute(
    `select s.feature_description, s.gherkin from user_stories s join workflow_runs r on r.id = s.run_id
     where r.project_key = ? and s.status = 'accepted' order by s.accepted_at desc limit ?`,
    [projectKey, limit],
  );
  return rows.map((r) => ({ description: r.feature_description, gherkin: r.gherkin }));
}

export interface StorySearch {
  /** Projects the reader may see; undefined: every project (admins). */
  projectKeys?: string[] | undefined;
  /** The reader's own handles: their stories are theirs to see whatever the project. */
  ownHandles?: string[];
  project?: string | undefined;
  status?: StoryRecord['status'] | undefined;
  minScore?: number | undefined;
  /** Words in the description or the Gherkin, case-insensitive. */
  text?: string | undefined;
  limit?: number;
}

export type ListedStory = StoryRecord & { projectKey: string | null; runRef: string; requestedBy: string; createdAt: string };

/** The story library: newest first, filtered as the reader may see. */
export async function searchStories(em: EntityManager, q: StorySearch): Promise<ListedStory[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    params.push(...values);
  };
  if (q.projectKeys) {
    const own = q.ownHandles?.length ? ` or r.requested_by in (${q.ownHandles.map(() => '?').join(',')})` : '';
    add(`(${q.projectKeys.length ? `r.project_key in (${q.projectKeys.map(() => '?').join(',')})` : 'false'}${own})`, ...q.projectKeys, ...(q.ownHandles ?? []));
  }
  if (q.project) add('r.project_key = ?', q.project);
  if (q.status) add('s.status = ?', q.status);
  if (q.minScore !== undefined) add('s.confidence_score >= ?', q.minScore);
  if (q.text) {
    const like = `%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    add('(s.feature_description ilike ? or s.gherkin ilike ?)', like, like);
  }
  const rows: Array<{ id: string | number; project_key: string | null; number: number; requested_by: string; created_at: string }> = await em.execute(
    `select s.id, r.project_key, r.number, r.requested_by, s.created_at from user_stories s join workflow_runs r on r.id = s.run_id
     ${where.length ? `where ${where.join(' and ')}` : ''} order by s.id desc limit ?`,
    [...params, Math.min(Math.max(q.limit ?? 50, 1), 200)],
  );
  const stories = new Map((await em.find(UserStory, { id: { $in: rows.map((r) => Number(r.id)) } }, fresh)).map((s) => [Number(s.id), toStory(s as Row)]));
  return rows.flatMap((r) => {
    const s = stories.get(Number(r.id));
    return s ? [{ ...s, projectKey: r.project_key, runRef: `R-${Number(r.number)}`, requestedBy: r.requested_by, createdAt: new Date(r.created_at).toISOString() }] : [];
  });
}
