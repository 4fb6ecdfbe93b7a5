import type { EntityManager } from '@mikro-orm/postgresql';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  source?: string | null;
  /** The project the decision concerns; when absent the database takes data.project or the target run's project. */
  project?: string | null;
  data?: Record<string, unknown>;
}

/** A stored audit row, as searches and exports show it. */
export interface AuditRecord {
  id: number;
  seq: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  source: string | null;
  project: string | null;
  data: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

type Row = Record<string, unknown>;

const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : ((v as Record<string, unknown> | null) ?? null));

function toRecord(r: Row): AuditRecord {
  return {
    id: Number(r.id),
    seq: Number(r.seq),
    at: iso(r.at),
    actor: String(r.actor),
    action: String(r.action),
    target: (r.target as string | null) ?? null,
    source: (r.source as string | null) ?? null,
    project: (r.project_key as string | null) ?? null,
    data: json(r.data),
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/**
 * The audit log: append-only, a hash chain kept by the database (see the audit_chain
 * migration). Inside a transaction the row is written as the transaction's last statement
 * (`beforeCommit`), so it commits with the decision it records, or not at all, and the chain's
 * lock is held only while the transaction commits. Outside one it is a statement of its own.
 */
export async function audit(ctx: { em: EntityManager; beforeCommit?: ((fn: () => Promise<unknown>) => void) | undefined }, entry: AuditEntry): Promise<void> {
  const write = () =>
    ctx.em.execute(`insert into audit_logs (actor, action, target, source, project_key, data) values (?, ?, ?, ?, ?, ?::jsonb)`, [
      entry.actor,
      entry.action,
      entry.target ?? null,
      entry.source ?? null,
      entry.project ?? null,
      entry.data ? JSON.stringify(entry.data) : null,
    ]);
  if (ctx.beforeCommit) ctx.beforeCommit(write);
  else await write();
}

export interface AuditFilter {
  actor?: string | undefined;
  /** An action, or a family of them: `deploy.*`. */
  action?: string | undefined;
  project?: string | undefined;
  target?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Rows older than this seq (newest first), or newer than it (oldest first). */
  beforeSeq?: number | undefined;
  afterSeq?: number | undefined;
  order?: 'newest' | 'oldest';
  limit?: number;
}

/** Rows matching the filter, newest first unless asked otherwise. */
export async function findAuditRows(em: EntityManager, f: AuditFilter): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    where.push(sql);
    params.push(value);
  };
  if (f.actor) add('actor = ?', f.actor);
  if (f.action?.endsWith('*')) add(`action like ? escape '\\'`, `${f.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`);
  else if (f.action) add('action = ?', f.action);
  if (f.project) add('project_key = ?', f.project);
  if (f.target) add('target = ?', f.target);
  if (f.since) add('at >= ?', f.since);
  if (f.until) add('at < ?', f.until);
  if (f.beforeSeq) add('seq < ?', f.beforeSeq);
  if (f.afterSeq) add('seq > ?', f.afterSeq);
  const order = f.order === 'oldest' ? 'asc' : 'desc';
  const rows: Row[] = await em.execute(
    `select id, seq, at, actor, action, target, source, project_key, data, prev_hash, hash from audit_logs
     ${where.length ? `where ${where.join(' and ')}` : ''} order by seq ${order} limit ?`,
    [...params, Math.min(Math.max(f.limit ?? 50, 1), 1000)],
  );
  return rows.map(toRecord);
}

/** A row of the chain with the hash the database computes from its content now. */
export interface ChainRow {
  id: number;
  seq: number;
  prevHash: string;
  hash: string;
  computed: string;
}

/** The chain in seq order after `afterSeq`, each row with its hash recomputed from its content. */
export async function chainRows(em: EntityManager, afterSeq: number, limit: number): Promise<ChainRow[]> {
  const rows: Row[] = await em.execute(
    `select id, seq, prev_hash, hash,
       audit_hash(prev_hash, seq, at, actor, action, target, source, project_key, data) as computed
     from audit_logs where seq > ? order by seq limit ?`,
    [afterSeq, limit],
  );
  return rows.map((r) => ({ id: Number(r.id), seq: Number(r.seq), prevHash: String(r.prev_hash), hash: String(r.hash), computed: String(r.computed) }));
}

/** Where the chain starts: the last pruning anchor, or the beginning. */
export async function latestAnchor(em: EntityManager): Promise<{ seq: number; hash: string } | undefined> {
  const rows: Row[] = await em.execute(`select through_seq, hash from audit_anchors order by through_seq desc limit 1`);
  return rows[0] ? { seq: Number(rows[0].through_seq), hash: String(rows[0].hash) } : undefined;
}

export async function chainHead(em: EntityManager): Promise<{ seq: number; hash: string; at: string } | undefined> {
  const rows: Row[] = await em.execute(`select seq, hash, at from audit_logs order by seq desc limit 1`);
  return rows[0] ? { seq: Number(rows[0].seq), hash: String(rows[0].hash), at: iso(rows[0].at) } : undefined;
}

export async function rowAtSeq(em: EntityManager, seq: number): Promise<{ id: number; hash: string } | undefined> {
  const rows: Row[] = await em.execute(`select id, hash from audit_logs where seq = ?`, [seq]);
  return rows[0] ? { id: Number(rows[0].id), hash: String(rows[0].hash) } : undefined;
}

/**
 * Retention: removes the rows written before `before`, a prefix of the chain, after recording
 * the last removed row's seq and hash as the anchor the rest verifies from. Needs a transaction
 * (the setting that lets the trigger allow this delete is local to it).
 */
export async function pruneAuditPrefix(em: EntityManager, before: Date): Promise<number> {
  const last: Row[] = await em.execute(`select seq, hash, at from audit_logs where at < ? order by seq desc limit 1`, [before]);
  if (!last[0]) return 0;
  await em.execute(`select set_config('autodevhub.audit_prune', 'on', true)`);
  await em.execute(`insert into audit_anchors (through_seq, hash, at) values (?, ?, ?)`, [last[0].seq, last[0].hash, last[0].at]);
  const deleted: Row[] = await em.execute(`with d as (delete from audit_logs where seq <= ? returning 1) select count(*) as n from d`, [last[0].seq]);
  await em.execute(`select set_config('autodevhub.audit_prune', 'off', true)`);
  return Number(deleted[0]?.n ?? 0);
}
