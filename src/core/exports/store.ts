import type { EntityManager } from '@mikro-orm/postgresql';
import { StoryExport } from '../db/entities.js';

/** All reads and writes of story_exports: one row per story version and kind, claimed before the work. */

export type ExportKind = 'issue' | 'pull_request';

export interface ExportRecord {
  id: number;
  storyId: number;
  kind: ExportKind;
  target: string;
  state: 'pending' | 'done' | 'failed';
  externalId: string | null;
  url: string | null;
  error: string | null;
  requestedBy: string;
  claimedAt: string;
}

type Row = Record<string, unknown>;

function toExport(r: Row): ExportRecord {
  return {
    id: Number(r.id),
    storyId: Number(r.story_id),
    kind: r.kind as ExportKind,
    target: String(r.target),
    state: r.state as ExportRecord['state'],
    externalId: (r.external_id as string | null) ?? null,
    url: (r.url as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    requestedBy: String(r.requested_by),
    claimedAt: new Date(r.claimed_at as string).toISOString(),
  };
}

/**
 * Claims the export of a story version: a new row, or a row whose earlier attempt failed or was
 * abandoned (pending for longer than `staleMs`, its worker gone), or pending under `retakeOwn`
 * (a retried job taking back its own claim). One statement, so of two concurrent clicks exactly
 * one gets the claim; the other gets undefined.
 */
export async function claimExport(em: EntityManager, e: { storyId: number; kind: ExportKind; target: string; requestedBy: string; staleMs: number; retakeOwn?: string }): Promise<{ claim: ExportRecord; retaken: boolean } | undefined> {
  const rows: Row[] = await em.execute(
    `insert into story_exports (story_id, kind, target, requested_by) values (?, ?, ?, ?)
     on conflict (story_id, kind) do update set state = 'pending', target = excluded.target, requested_by = excluded.requested_by,
       claimed_at = now(), updated_at = now(), error = null
     where story_exports.state = 'failed' or (story_exports.state = 'pending' and (story_exports.claimed_at < now() - make_interval(secs => ?) or story_exports.requested_by = ?))
     returning *, (xmax <> 0) as retaken`,
    [e.storyId, e.kind, e.target, e.requestedBy, e.staleMs / 1000, e.retakeOwn ?? null],
  );
  return rows[0] ? { claim: toExport(rows[0]), retaken: Boolean(rows[0].retaken) } : undefined;
}

export async function findExport(em: EntityManager, storyId: number, kind: ExportKind): Promise<ExportRecord | undefined> {
  const rows: Row[] = await em.execute(`select * from story_exports where story_id = ? and kind = ?`, [storyId, kind]);
  return rows[0] ? toExport(rows[0]) : undefined;
}

export async function exportsOfStory(em: EntityManager, storyId: number): Promise<ExportRecord[]> {
  const rows = await em.find(StoryExport, { storyId }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
  return rows.map((r) =>
    toExport({ id: r.id, story_id: r.storyId, kind: r.kind, target: r.target, state: r.state, external_id: r.externalId, url: r.url, error: r.error, requested_by: r.requestedBy, claimed_at: r.claimedAt }),
  );
}

/** Completes a claim (only the claim it is given: a newer claim is not overwritten). */
export async function finishExport(em: EntityManager, id: number, claimedAt: string, outcome: { state: 'done'; externalId: string; url: string } | { state: 'failed'; error: string }): Promise<boolean> {
  const done = outcome.state === 'done';
  const rows: Row[] = await em.execute(
    `update story_exports set state = ?, external_id = ?, url = ?, error = ?, updated_at = now()
     where id = ? and state = 'pending' and date_trunc('milliseconds', claimed_at) = date_trunc('milliseconds', ?::timestamptz) returning id`,
    [outcome.state, done ? outcome.externalId : null, done ? outcome.url : null, done ? null : outcome.error.slice(0, 1000), id, claimedAt],
  );
  return rows.length === 1;
}
