import type { EntityManager } from '@mikro-orm/postgresql';
import type { FilterQuery, InferEntity } from '@mikro-orm/core';
import { RunEvent, WorkflowRun } from '../db/entities.js';
import { NotFoundError } from '../errors.js';
import {
  FINAL_STATUSES,
  OPEN_STATUSES,
  parseRunData,
  runLinks,
  runRef,
  type RunEventMessage,
  type RunKind,
  type RunStatus,
  type RunSummary,
} from './model.js';

/**
 * All reads and writes of workflow_runs, run_events and processed_deliveries. Reads and plain
 * updates go through the entities. Statements are raw where one statement buys atomicity or
 * speed: the group-commit insert (any number of runs, their deliveries and first events in one
 * statement, one commit), the event append (the row lock taken by the UPDATE of last_seq is what
 * makes seq gap-free under concurrency), jsonb merges and monotonic updates, and pruning.
 * Everything here takes the EntityManager it is given, so it joins that manager's transaction
 * when there is one (`em.execute` honours it too). Reads bypass the identity map: a run changes
 * through statements, and a cached row would be stale.
 */

type Row = Record<string, unknown>;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : new Date(String(v)).toISOString());
const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : ((v as Record<string, unknown> | null) ?? null));
const finalList = FINAL_STATUSES.map((s) => `'${s}'`).join(', ');

/** A run's columns as the entity names them (raw rows are renamed to match). */
type RunFields = Pick<
  InferEntity<typeof WorkflowRun>,
  'id' | 'number' | 'kind' | 'status' | 'stage' | 'progress' | 'projectKey' | 'requestedBy' | 'sourcePlatform' | 'channel' | 'threadRef' | 'input' | 'result' | 'error' | 'lastSeq' | 'chatSeq' | 'createdAt' | 'updatedAt' | 'finishedAt'
>;

function fromRow(r: Row): RunFields {
  return {
    id: Number(r.id),
    number: Number(r.number),
    kind: r.kind as RunKind,
    status: r.status as RunStatus,
    stage: (r.stage as string | null) ?? null,
    progress: Number(r.progress ?? 0),
    projectKey: (r.project_key as string | null) ?? null,
    requestedBy: String(r.requested_by),
    sourcePlatform: String(r.source_platform),
    channel: (r.channel as string | null) ?? null,
    threadRef: (r.thread_ref as string | null) ?? null,
    input: json(r.input) ?? {},
    result: json(r.result),
    error: (r.error as string | null) ?? null,
    lastSeq: Number(r.last_seq ?? 0),
    chatSeq: Number(r.chat_seq ?? 0),
    createdAt: r.created_at as Date,
    updatedAt: (r.updated_at ?? r.created_at) as Date,
    finishedAt: (r.finished_at as Date | null) ?? null,
  };
}

export function toRun(f: RunFields): RunSummary {
  const ref = runRef(f.number);
  const result = parseRunData(f.kind, 'result', f.result ?? {}, ref);
  return {
    id: Number(f.id),
    ref,
    number: f.number,
    kind: f.kind,
    status: f.status,
    stage: f.stage ?? null,
    progress: f.progress,
    projectKey: f.projectKey ?? null,
    requestedBy: f.requestedBy,
    sourcePlatform: f.sourcePlatform,
    channel: f.channel ?? null,
    threadRef: f.threadRef ?? null,
    input: parseRunData(f.kind, 'input', f.input, ref),
    result,
    error: f.error ?? null,
    lastSeq: f.lastSeq,
    chatSeq: f.chatSeq,
    createdAt: iso(f.createdAt)!,
    updatedAt: iso(f.updatedAt)!,
    finishedAt: iso(f.finishedAt),
    links: runLinks(f.threadRef ?? null, result),
  } as RunSummary;
}

export function toEvent(run: Pick<RunSummary, 'id' | 'number' | 'projectKey' | 'kind'>, e: Row): RunEventMessage {
  return {
    runId: run.id,
    ref: runRef(run.number),
    projectKey: run.projectKey,
    kind: run.kind,
    seq: Number(e.seq),
    stage: (e.stage as string | null) ?? null,
    status: e.status as RunStatus,
    progress: Number(e.progress),
    message: String(e.message),
    at: iso(e.at)!,
    data: json(e.data),
  };
}

/** One run to insert, as the group statement reads it. */
export interface RunRow {
  ord: number;
  platform: string;
  delivery_id: string;
  request_hash: string | null;
  kind: RunKind;
  project_key: string | null;
  requested_by: string;
  source_platform: string;
  channel: string | null;
  input: Record<string, unknown>;
  message: string;
  chat_refs: Record<string, string>;
}

export interface InsertedRun {
  ord: number;
  run: RunSummary;
  event: RunEventMessage;
}

/**
 * Records deliveries, creates their runs and first events: one statement for any number of
 * runs. A delivery id already recorded inserts nothing (see findDeliveries). Each delivery row
 * takes its run id from the sequence before the run exists: within one statement Postgres checks
 * the foreign key at the end, when both rows are there. The project is the one named, else the
 * one the channel is linked to.
 */
export async function insertRuns(em: EntityManager, rows: RunRow[]): Promise<InsertedRun[]> {
  if (rows.length === 0) return [];
  const created: Row[] = await em.execute(
    `with ids as materialized (
       select t.*, nextval('workflow_runs_id_seq') as run_id
       from jsonb_to_recordset(?::jsonb) as t(ord int, platform text, delivery_id text, request_hash text, kind text,
         project_key text, requested_by text, source_platform text, channel text, input jsonb, message text, chat_refs jsonb)
     ), d as (
       insert into processed_deliveries (platform, delivery_id, run_id, request_hash)
       select platform, delivery_id, run_id, request_hash from ids order by ord
       on conflict (platform, delivery_id) do nothing
       returning run_id
     ), r as (
       insert into workflow_runs (id, kind, status, stage, progress, project_key, requested_by, source_platform, channel, input, last_seq, chat_refs)
       select ids.run_id, ids.kind, 'queued', 'queued', 0,
              coalesce(ids.project_key, (select cl.project_key from channel_links cl where cl.channel = ids.channel)),
              ids.requested_by, ids.source_platform, ids.channel, ids.input, 1, coalesce(ids.chat_refs, '{}'::jsonb)
       from ids join d on d.run_id = ids.run_id
       returning *
     ), e as (
       insert into run_events (run_id, seq, stage, status, progress, message, data, at)
       select r.id, 1, 'queued', 'queued', 0, ids.message,
              jsonb_build_object('requestedBy', r.requested_by, 'description', r.input->>'description'), r.created_at
       from r join ids on ids.run_id = r.id
       returning run_id, message, data, at
     )
     select r.*, ids.ord as e_ord, e.message as e_message, e.data as e_data, e.at as e_at
     from r join ids on ids.run_id = r.id join e on e.run_id = r.id`,
    [JSON.stringify(rows)],
  );
  return created.map((row) => {
    const run = toRun(fromRow(row));
    const event = toEvent(run, { seq: 1, stage: 'queued', status: 'queued', progress: 0, message: row.e_message, data: row.e_data, at: row.e_at });
    return { ord: Number(row.e_ord), run, event };
  });
}

export interface RecordedDelivery {
  platform: string;
  deliveryId: string;
  requestHash: string | null;
  run: RunSummary;
}

/** The runs earlier deliveries with these ids created. */
export async function findDeliveries(em: EntityManager, keys: Array<{ platform: string; deliveryId: string }>): Promise<RecordedDelivery[]> {
  if (keys.length === 0) return [];
  const rows: Row[] = await em.execute(
    `select r.*, d.platform as d_platform, d.delivery_id as d_id, d.request_hash as d_hash
     from jsonb_to_recordset(?::jsonb) as k(platform text, delivery_id text)
     join processed_deliveries d on d.platform = k.platform and d.delivery_id = k.delivery_id
     join workflow_runs r on r.id = d.run_id`,
    [JSON.stringify(keys.map((k) => ({ platform: k.platform, delivery_id: k.deliveryId })))],
  );
  return rows.map((r) => ({ platform: String(r.d_platform), deliveryId: String(r.d_id), requestHash: (r.d_hash as string | null) ?? null, run: toRun(fromRow(r)) }));
}

export interface EventPatch {
  status?: RunStatus;
  stage?: string | null;
  progress?: number;
  message: string;
  data?: Record<string, unknown> | null;
  /** Merged into the run's result (top-level keys replace). */
  result?: Record<string, unknown>;
  error?: string | null;
  /** Apply only if the run is in one of these statuses: the guard that makes a transition happen once. */
  expectStatus?: RunStatus[];
  /** Apply only if the run is not in one of these stages. */
  unlessStage?: string[];
}

/**
 * Appends the next event of a run and applies its patch to the run, atomically. Returns
 * undefined when the run has already finished (or a guard did not hold): a finished run takes no
 * more events, which is what makes a late worker after a cancel harmless.
 */
export async function appendEvent(em: EntityManager, runId: number, patch: EventPatch): Promise<RunEventMessage | undefined> {
  const result = patch.result ? JSON.stringify(patch.result) : null;
  const rows: Row[] = await em.execute(
    `with r as (
       update workflow_runs set
         last_seq = last_seq + 1,
         status = coalesce(?, status),
         stage = case when ? then ? else stage end,
         progress = coalesce(?, progress),
         result = case when ?::jsonb is null then result else coalesce(result, '{}'::jsonb) || ?::jsonb end,
         error = case when ? then ? else error end,
         updated_at = now(),
         finished_at = case when coalesce(?, status) in (${finalList}) then now() else finished_at end
       where id = ? and status not in (${finalList}) ${patch.expectStatus ? `and status in (${patch.expectStatus.map(() => '?').join(', ')})` : ''}
         ${patch.unlessStage ? `and (stage is null or stage not in (${patch.unlessStage.map(() => '?').join(', ')}))` : ''}
       returning id, number, project_key, kind, last_seq, stage, status, progress
     )
     insert into run_events (run_id, seq, stage, status, progress, message, data)
     select r.id, r.last_seq, r.stage, r.status, r.progress, ?, ?::jsonb from r
     returning run_id, seq, stage, status, progress, message, data, at,
       (select number from r) as number, (select project_key from r) as project_key, (select kind from r) as kind`,
    [
      patch.status ?? null,
      patch.stage !== undefined,
      patch.stage ?? null,
      patch.progress ?? null,
      result,
      result,
      patch.error !== undefined,
      patch.error ?? null,
      patch.status ?? null,
      runId,
      ...(patch.expectStatus ?? []),
      ...(patch.unlessStage ?? []),
      patch.message,
      patch.data ? JSON.stringify(patch.data) : null,
    ],
  );
  const row = rows[0];
  if (!row) return undefined;
  return toEvent({ id: runId, number: Number(row.number), projectKey: (row.project_key as string | null) ?? null, kind: row.kind as RunKind }, row);
}

const fresh = { disableIdentityMap: true } as const;

/** A run by id, by reference ("R-1042") or by number; undefined when there is none. */
export async function findRun(em: EntityManager, idOrRef: number | string): Promise<RunSummary | undefined> {
  const byRef = typeof idOrRef === 'string';
  const key = byRef ? Number(idOrRef.replace(/^R-?/i, '')) : idOrRef;
  if (!Number.isSafeInteger(key) || key <= 0 || key > 2_147_483_647) return undefined;
  const row = await em.findOne(WorkflowRun, byRef ? { number: key } : { id: key }, fresh);
  return row ? toRun(row) : undefined;
}

export async function getRun(em: EntityManager, idOrRef: number | string): Promise<RunSummary> {
  const run = await findRun(em, idOrRef);
  if (!run) throw new NotFoundError(`There is no run ${typeof idOrRef === 'string' ? idOrRef : runRef(Number(idOrRef))}.`);
  return run;
}

export interface ListRunsFilter {
  projectKey?: string;
  /** Only these projects (an actor's readable projects); an empty list matches nothing. */
  projectKeys?: string[];
  channel?: string;
  kind?: RunKind;
  status?: RunStatus;
  requestedBy?: string;
  /** Runs asked for by any of these handles (a person's own runs). */
  requestedByAny?: string[];
  since?: Date;
  /** Runs older than this id (cursor pagination, newest first). */
  beforeId?: number;
  limit?: number;
}

export async function listRuns(em: EntityManager, filter: ListRunsFilter = {}): Promise<RunSummary[]> {
  const where: FilterQuery<InferEntity<typeof WorkflowRun>> = {
    ...(filter.projectKey && { projectKey: filter.projectKey }),
    ...(filter.projectKeys && { projectKey: { $in: filter.projectKeys } }),
    ...(filter.channel && { channel: filter.channel }),
    ...(filter.kind && { kind: filter.kind }),
    ...(filter.status && { status: filter.status }),
    ...(filter.requestedBy && { requestedBy: filter.requestedBy }),
    ...(filter.requestedByAny && { requestedBy: { $in: filter.requestedByAny } }),
    ...(filter.since && { createdAt: { $gte: filter.since } }),
    ...(filter.beforeId && { id: { $lt: filter.beforeId } }),
  };
  const rows = await em.find(WorkflowRun, where, { orderBy: { id: 'desc' }, limit: Math.min(Math.max(filter.limit ?? 20, 1), 200), ...fresh });
  return rows.map(toRun);
}

/** Events of one run after a given seq, in order: what a reconnecting client missed. */
export async function eventsAfter(em: EntityManager, run: Pick<RunSummary, 'id' | 'number' | 'projectKey' | 'kind'>, afterSeq: number): Promise<RunEventMessage[]> {
  const rows = await em.find(RunEvent, { runId: run.id, seq: { $gt: Math.max(0, afterSeq) } }, { orderBy: { seq: 'asc' }, ...fresh });
  return rows.map((e) => toEvent(run, { seq: e.seq, stage: e.stage, status: e.status, progress: e.progress, message: e.message, data: e.data, at: e.at }));
}

/**
 * Runs acknowledged but not finished, and unchanged for `settledMs`: each needs a job (or a
 * scheduled check) to move on. A run changed just now may be between its commit and its job.
 */
export async function unfinishedRuns(em: EntityManager, kinds: readonly RunKind[], settledMs = 0): Promise<RunSummary[]> {
  const where = { status: { $in: [...OPEN_STATUSES] }, kind: { $in: [...kinds] }, ...(settledMs > 0 && { updatedAt: { $lt: new Date(Date.now() - settledMs) } }) };
  const rows = await em.find(WorkflowRun, where, { orderBy: { id: 'asc' }, ...fresh });
  return rows.map(toRun);
}

/** Runs whose chat view is behind their events for longer than `olderThanMs`: a lost render. */
export async function runsBehindInChat(em: EntityManager, olderThanMs: number, limit = 100): Promise<Array<{ id: number; lastSeq: number }>> {
  const rows: Row[] = await em.execute(
    `select id, last_seq from workflow_runs
     where chat_seq < last_seq and source_platform in ('slack', 'discord', 'teams') and updated_at < now() - make_interval(secs => ?)
     order by updated_at limit ?`,
    [olderThanMs / 1000, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), lastSeq: Number(r.last_seq) }));
}

/** What chat needs to know about a run besides the run: what it has shown, and its references. */
export async function chatState(em: EntityManager, runId: number): Promise<{ chatSeq: number; refs: Record<string, string> }> {
  const row = await em.findOne(WorkflowRun, { id: runId }, { fields: ['chatSeq', 'chatRefs'], ...fresh });
  return { chatSeq: row?.chatSeq ?? 0, refs: (row?.chatRefs as Record<string, string> | undefined) ?? {} };
}

export async function setThreadRef(em: EntityManager, runId: number, threadRef: string): Promise<void> {
  await em.nativeUpdate(WorkflowRun, { id: runId }, { threadRef });
}

export async function saveChatRef(em: EntityManager, runId: number, key: string, ref: string): Promise<void> {
  await em.execute(`update workflow_runs set chat_refs = chat_refs || jsonb_build_object(?::text, ?::text) where id = ?`, [key, ref, runId]);
}

/** Marks what chat has shown; never moves backwards when two renders race. */
export async function markChatRendered(em: EntityManager, runId: number, seq: number): Promise<void> {
  await em.execute(`update workflow_runs set chat_seq = greatest(chat_seq, ?) where id = ?`, [seq, runId]);
}

/** A measurement taken once by chat delivery (e.g. push → link), kept in the run's result. */
export async function noteResultOnce(em: EntityManager, runId: number, key: string, value: number): Promise<void> {
  await em.execute(
    `update workflow_runs set result = coalesce(result, '{}'::jsonb) || jsonb_build_object(?::text, ?::int) where id = ? and (coalesce(result, '{}'::jsonb) ->> ?) is null`,
    [key, value, runId, key],
  );
}

/**
 * Retention: delivery ids are kept past every platform's redelivery window (Slack retries for
 * minutes, GitHub lets people redeliver for days), then pruned. Events of runs finished before
 * `eventsBefore` are pruned only when a retention is configured.
 */
export async function pruneDeliveries(em: EntityManager, before: Date): Promise<number> {
  const rows: Row[] = await em.execute(`with d as (delete from processed_deliveries where created_at < ? returning 1) select count(*) as n from d`, [before]);
  return Number(rows[0]?.n ?? 0);
}

export async function pruneEventsOfFinishedRuns(em: EntityManager, finishedBefore: Date): Promise<number> {
  // The last event of a run is kept: it is what a feed shows for an old run.
  const rows: Row[] = await em.execute(
    `with d as (
       delete from run_events e using workflow_runs r
       where e.run_id = r.id and r.finished_at < ? and e.seq < r.last_seq
       returning 1)
     select count(*) as n from d`,
    [finishedBefore],
  );
  return Number(rows[0]?.n ?? 0);
}

/** When a run was taken in, and when each of its stages began (its first event), in order: for durations. */
export async function runTimeline(em: EntityManager, runId: number): Promise<{ createdAt: Date; stages: Array<{ stage: string; startedAt: Date }> }> {
  const rows: Row[] = await em.execute(
    `select (select created_at from workflow_runs where id = ?) as created_at, e.stage, min(e.at) as started_at
     from run_events e where e.run_id = ? and e.stage is not null group by e.stage order by min(e.seq)`,
    [runId, runId],
  );
  return { createdAt: new Date(iso(rows[0]?.created_at) ?? Date.now()), stages: rows.map((r) => ({ stage: String(r.stage), startedAt: new Date(iso(r.started_at)!) })) };
}

/** Deploys waiting for people: how many, and since when the oldest has waited. */
export async function waitingApprovals(em: EntityManager): Promise<{ count: number; oldestSince: Date | null }> {
  const rows: Row[] = await em.execute(`select count(*) as n, min(updated_at) as oldest from workflow_runs where status = 'waiting_approval'`);
  const oldest = iso(rows[0]?.oldest);
  return { count: Number(rows[0]?.n ?? 0), oldestSince: oldest ? new Date(oldest) : null };
}

/** How far a run's notifications (webhooks, email) have been handed out. */
export async function notifiedSeq(em: EntityManager, runId: number): Promise<number> {
  const row = await em.findOne(WorkflowRun, { id: runId }, { fields: ['notifiedSeq'], ...fresh });
  return row?.notifiedSeq ?? 0;
}

/** Marks notifications handed out up to `seq`; never moves backwards. */
export async function markNotified(em: EntityManager, runId: number, seq: number): Promise<void> {
  await em.execute(`update workflow_runs set notified_seq = greatest(notified_seq, ?) where id = ?`, [seq, runId]);
}

/**
 * Runs whose notifications are behind their events for longer than `olderThanMs`: a lost notify
 * job. Only runs changed within the last day: a webhook added today is not sent last month's runs.
 */
export async function runsBehindInNotify(em: EntityManager, olderThanMs: number, limit = 100): Promise<Array<{ id: number; lastSeq: number }>> {
  const rows: Row[] = await em.execute(
    `select id, last_seq from workflow_runs where notified_seq < last_seq and updated_at < now() - make_interval(secs => ?)
       and updated_at > now() - interval '1 day' order by updated_at limit ?`,
    [olderThanMs / 1000, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), lastSeq: Number(r.last_seq) }));
}

/**
 * Takes the run's row lock for the rest of the transaction: decisions on one run (approvals) are
 * made one after another, each seeing the ones before it.
 */
/** Locks the run's row for this transaction; returns its status as of the lock (what later writers will see). */
export async function lockRun(em: EntityManager, runId: number): Promise<RunStatus | undefined> {
  const rows: Array<{ status: RunStatus }> = await em.execute(`select status from workflow_runs where id = ? for update`, [runId]);
  return rows[0]?.status;
}
