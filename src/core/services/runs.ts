import type { EntityManager } from '@mikro-orm/postgresql';
import { type RunKind, type RunStatus, FINAL_STATUSES, WorkflowRun } from '../db/entities.js';
import { type EventPublisher, type RunEventMessage, runRef } from '../events.js';
import { NotFoundError } from '../errors.js';

/**
 * Runs and their event stream. Every change of a run is an event stored with the next per-run
 * seq and only then published. Both writes are single SQL statements: the row lock taken by the
 * UPDATE of workflow_runs.last_seq is what makes seq gap-free under concurrency, and one
 * statement is one round trip on the ingress hot path.
 */

export interface RunSummary {
  id: number;
  ref: string;
  number: number;
  kind: RunKind;
  status: RunStatus;
  stage: string | null;
  progress: number;
  projectKey: string | null;
  requestedBy: string;
  sourcePlatform: string;
  channel: string | null;
  threadRef: string | null;
  input: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  lastSeq: number;
  createdAt: string;
  finishedAt: string | null;
  /** Where a person can follow the run outside AutoDevHub: the chat thread, a PR, a deployment. */
  links: Record<string, string>;
}

export interface NewRun {
  kind: RunKind;
  requestedBy: string;
  sourcePlatform: string;
  channel?: string | null;
  projectKey?: string | null;
  input: Record<string, unknown>;
  /** The platform's id for this delivery; a second delivery with the same id creates nothing. */
  delivery: { platform: string; id: string };
  message?: string;
  /** Chat references known at intake (e.g. a Discord interaction token), stored with the run. */
  chatRefs?: Record<string, string>;
}

type Row = Record<string, unknown>;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : new Date(String(v)).toISOString());
const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : (v as Record<string, unknown> | null));

/** Links a person can open; Slack's app_redirect opens the channel in the Slack client. */
export function runLinks(threadRef: string | null, result: Record<string, unknown> | null): Record<string, string> {
  const links: Record<string, string> = {};
  const [platform, channel] = (threadRef ?? '').split(':');
  if (platform === 'slack' && channel) links.thread = `https://slack.com/app_redirect?channel=${encodeURIComponent(channel)}`;
  for (const k of ['pullRequest', 'deployment'] as const) {
    const url = result?.[`${k}Url`];
    if (typeof url === 'string' && /^https?:\/\//.test(url)) links[k] = url;
  }
  return links;
}

function toSummary(r: Row): RunSummary {
  const number = Number(r.number);
  const threadRef = (r.thread_ref as string | null) ?? null;
  const result = json(r.result);
  return {
    id: Number(r.id),
    ref: runRef(number),
    number,
    kind: r.kind as RunKind,
    status: r.status as RunStatus,
    stage: (r.stage as string | null) ?? null,
    progress: Number(r.progress ?? 0),
    projectKey: (r.project_key as string | null) ?? null,
    requestedBy: String(r.requested_by),
    sourcePlatform: String(r.source_platform),
    channel: (r.channel as string | null) ?? null,
    threadRef,
    input: json(r.input) ?? {},
    result,
    error: (r.error as string | null) ?? null,
    lastSeq: Number(r.last_seq ?? 0),
    createdAt: iso(r.created_at)!,
    finishedAt: iso(r.finished_at),
    links: runLinks(threadRef, result),
  };
}

function toEvent(run: Pick<RunSummary, 'id' | 'number' | 'projectKey' | 'kind'>, e: Row): RunEventMessage {
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

export interface CreatedRun {
  run: RunSummary;
  duplicate: boolean;
  event?: RunEventMessage;
}

/**
 * Records deliveries, creates their runs and first events: one statement for any number of
 * runs, so a burst of commands costs one commit (one WAL flush) instead of one each. A repeated
 * delivery id inserts nothing and returns the run its first delivery created.
 */
export async function createRuns(em: EntityManager, inputs: NewRun[]): Promise<CreatedRun[]> {
  if (inputs.length === 0) return [];
  const rows = inputs.map((input, ord) => ({
    ord,
    platform: input.delivery.platform,
    delivery_id: input.delivery.id,
    kind: input.kind,
    project_key: input.projectKey ?? null,
    requested_by: input.requestedBy,
    source_platform: input.sourcePlatform,
    channel: input.channel ?? null,
    input: input.input,
    message: input.message ?? 'Queued',
    chat_refs: input.chatRefs ?? {},
  }));
  // Each delivery row takes its run id from the sequence before the run exists: within one
  // statement Postgres checks the foreign key at the end, when both rows are there.
  const created: Row[] = await em.getConnection().execute(
    `with ids as materialized (
       select t.*, nextval('workflow_runs_id_seq') as run_id
       from jsonb_to_recordset(?::jsonb) as t(ord int, platform text, delivery_id text, kind text, project_key text,
         requested_by text, source_platform text, channel text, input jsonb, message text, chat_refs jsonb)
     ), d as (
       insert into processed_deliveries (platform, delivery_id, run_id)
       select platform, delivery_id, run_id from ids order by ord
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
  const results: Array<CreatedRun | undefined> = new Array(inputs.length);
  for (const row of created) {
    const run = toSummary(row);
    const event = toEvent(run, { seq: 1, stage: 'queued', status: 'queued', progress: 0, message: row.e_message, data: row.e_data, at: row.e_at });
    results[Number(row.e_ord)] = { run, duplicate: false, event };
  }
  const missing = inputs.map((input, i) => ({ input, i })).filter(({ i }) => !results[i]);
  if (missing.length) {
    const existing: Row[] = await em.getConnection().execute(
      `select r.*, d.platform as d_platform, d.delivery_id as d_id
       from jsonb_to_recordset(?::jsonb) as k(platform text, delivery_id text)
       join processed_deliveries d on d.platform = k.platform and d.delivery_id = k.delivery_id
       join workflow_runs r on r.id = d.run_id`,
      [JSON.stringify(missing.map(({ input }) => ({ platform: input.delivery.platform, delivery_id: input.delivery.id })))],
    );
    const byKey = new Map(existing.map((r) => [`${r.d_platform}\u0000${r.d_id}`, toSummary(r)]));
    for (const { input, i } of missing) {
      const run = byKey.get(`${input.delivery.platform}\u0000${input.delivery.id}`);
      if (!run) throw new Error(`delivery ${input.delivery.platform}:${input.delivery.id} recorded without a run`);
      results[i] = { run, duplicate: true };
    }
  }
  return results as CreatedRun[];
}

export async function createRun(em: EntityManager, input: NewRun): Promise<CreatedRun> {
  return (await createRuns(em, [input]))[0]!;
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
 * undefined when the run has already finished: a finished run takes no more events, which is
 * what makes a late worker after a cancel harmless.
 */
export async function appendEvent(em: EntityManager, runId: number, patch: EventPatch): Promise<RunEventMessage | undefined> {
  const finalList = FINAL_STATUSES.map((s) => `'${s}'`).join(', ');
  const rows: Row[] = await em.getConnection().execute(
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
      patch.result ? JSON.stringify(patch.result) : null,
      patch.result ? JSON.stringify(patch.result) : null,
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
  return toEvent(
    { id: runId, number: Number(row.number), projectKey: (row.project_key as string | null) ?? null, kind: row.kind as RunKind },
    row,
  );
}

/** Appends and publishes. Publishing after the commit means a subscriber never sees an event the database lost. */
export async function recordEvent(
  em: EntityManager,
  publisher: EventPublisher,
  runId: number,
  patch: EventPatch,
): Promise<RunEventMessage | undefined> {
  const event = await appendEvent(em, runId, patch);
  if (event) await publisher.publish(event);
  return event;
}

export async function getRun(em: EntityManager, idOrRef: number | string): Promise<RunSummary> {
  const byRef = typeof idOrRef === 'string';
  const rows: Row[] = await em
    .getConnection()
    .execute(`select * from workflow_runs where ${byRef ? 'number' : 'id'} = ?`, [
      byRef ? Number(idOrRef.replace(/^R-?/i, '')) : idOrRef,
    ]);
  if (!rows[0]) throw new NotFoundError(`There is no run ${byRef ? idOrRef : runRef(Number(idOrRef))}.`);
  return toSummary(rows[0]);
}

export async function findRun(em: EntityManager, idOrRef: number | string): Promise<RunSummary | undefined> {
  try {
    return await getRun(em, idOrRef);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

export interface ListRunsFilter {
  projectKey?: string;
  channel?: string;
  limit?: number;
}

export async function listRuns(em: EntityManager, filter: ListRunsFilter = {}): Promise<RunSummary[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.projectKey) {
    where.push('project_key = ?');
    params.push(filter.projectKey);
  }
  if (filter.channel) {
    where.push('channel = ?');
    params.push(filter.channel);
  }
  params.push(Math.min(Math.max(filter.limit ?? 20, 1), 200));
  const rows: Row[] = await em
    .getConnection()
    .execute(
      `select * from workflow_runs ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`,
      params,
    );
  return rows.map(toSummary);
}

/** Events of one run after a given seq, in order: what a reconnecting client missed. */
export async function eventsAfter(em: EntityManager, run: RunSummary, afterSeq: number): Promise<RunEventMessage[]> {
  const rows: Row[] = await em
    .getConnection()
    .execute(`select * from run_events where run_id = ? and seq > ? order by seq`, [run.id, Math.max(0, afterSeq)]);
  return rows.map((e) => toEvent(run, e));
}

export async function setThreadRef(em: EntityManager, runId: number, threadRef: string): Promise<void> {
  await em.nativeUpdate(WorkflowRun, { id: runId }, { threadRef });
}

/** Marks what chat has shown; never moves backwards when two renders race. */
export async function markChatRendered(em: EntityManager, runId: number, seq: number): Promise<void> {
  await em.getConnection().execute(`update workflow_runs set chat_seq = greatest(chat_seq, ?) where id = ?`, [seq, runId]);
}

export async function chatSeq(em: EntityManager, runId: number): Promise<number> {
  const rows: Row[] = await em.getConnection().execute(`select chat_seq from workflow_runs where id = ?`, [runId]);
  return Number(rows[0]?.chat_seq ?? 0);
}

/** Runs acknowledged but not finished: after a crash these go back on the queue. */
export async function unfinishedRuns(em: EntityManager, kinds: RunKind[]): Promise<RunSummary[]> {
  const rows: Row[] = await em
    .getConnection()
    .execute(
      `select * from workflow_runs where status in ('queued', 'running', 'waiting_approval') and kind in (${kinds.map(() => '?').join(', ')}) order by id`,
      kinds,
    );
  return rows.map(toSummary);
}
