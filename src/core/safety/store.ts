import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * All SQL of deploy safety: the per-environment queue (environment_queue), locks
 * (environment_locks), and the reads of deployments that soak time needs.
 */

export interface QueueSlot {
  runId: number;
  ref: string;
  status: string;
  stage: string | null;
  requestedBy: string;
  description: string;
  createdAt: string;
}

export interface QueueRow {
  repo: string;
  environment: string;
  active?: QueueSlot;
  waiting?: QueueSlot;
}

const slot = (r: Record<string, unknown>, p: 'a' | 'w'): QueueSlot | undefined =>
  r[`${p}_id`] == null
    ? undefined
    : {
        runId: Number(r[`${p}_id`]),
        ref: `R-${Number(r[`${p}_number`])}`,
        status: String(r[`${p}_status`]),
        stage: (r[`${p}_stage`] as string | null) ?? null,
        requestedBy: String(r[`${p}_by`]),
        description: String(r[`${p}_description`] ?? ''),
        createdAt: new Date(r[`${p}_created`] as string).toISOString(),
      };

const QUEUE_SELECT = `select q.repo, q.environment,
    a.id as a_id, a.number as a_number, a.status as a_status, a.stage as a_stage, a.requested_by as a_by, a.input->>'description' as a_description, a.created_at as a_created,
    w.id as w_id, w.number as w_number, w.status as w_status, w.stage as w_stage, w.requested_by as w_by, w.input->>'description' as w_description, w.created_at as w_created
  from environment_queue q left join workflow_runs a on a.id = q.active_run_id left join workflow_runs w on w.id = q.waiting_run_id`;

const queueRow = (r: Record<string, unknown>): QueueRow => ({ repo: String(r.repo), environment: String(r.environment), ...(slot(r, 'a') && { active: slot(r, 'a') }), ...(slot(r, 'w') && { waiting: slot(r, 'w') }) });

/** The environment's queue row, locked until the transaction ends (made first if there is none). */
export async function lockQueue(em: EntityManager, repo: string, environment: string): Promise<QueueRow> {
  await em.execute(`insert into environment_queue (repo, environment) values (?, ?) on conflict do nothing`, [repo, environment]);
  await em.execute(`select 1 from environment_queue where repo = ? and environment = ? for update`, [repo, environment]);
  const rows: Array<Record<string, unknown>> = await em.execute(`${QUEUE_SELECT} where q.repo = ? and q.environment = ?`, [repo, environment]);
  return queueRow(rows[0]!);
}

export async function readQueue(em: EntityManager, repo: string, environment: string): Promise<QueueRow> {
  const rows: Array<Record<string, unknown>> = await em.execute(`${QUEUE_SELECT} where q.repo = ? and q.environment = ?`, [repo, environment]);
  return rows[0] ? queueRow(rows[0]) : { repo, environment };
}

export async function readQueues(em: EntityManager, repos: string[]): Promise<QueueRow[]> {
  if (!repos.length) return [];
  const rows: Array<Record<string, unknown>> = await em.execute(`${QUEUE_SELECT} where q.repo in (${repos.map(() => '?').join(', ')}) order by q.repo, q.environment`, repos);
  return rows.map(queueRow);
}

/** Sets who has the environment and who waits (call with the row locked). */
export async function setQueue(em: EntityManager, repo: string, environment: string, places: { active: number | null; waiting: number | null }): Promise<void> {
  await em.execute(`update environment_queue set active_run_id = ?, waiting_run_id = ?, updated_at = now() where repo = ? and environment = ?`, [places.active, places.waiting, repo, environment]);
}

/** Whether the run has its environment now. */
export async function holdsEnvironment(em: EntityManager, runId: number): Promise<boolean> {
  const rows: unknown[] = await em.execute(`select 1 from environment_queue where active_run_id = ?`, [runId]);
  return rows.length > 0;
}

/**
 * A finished run lets go: if it had the environment, the waiting run (if any) has it now; if it
 * was waiting, the place is free. One conditional update each, so it happens once.
 */
export async function letGo(em: EntityManager, runId: number): Promise<{ repo: string; environment: string; next: number | null } | undefined> {
  await em.execute(`update environment_queue set waiting_run_id = null, updated_at = now() where waiting_run_id = ?`, [runId]);
  const rows: Array<Record<string, unknown>> = await em.execute(
    `update environment_queue set active_run_id = waiting_run_id, waiting_run_id = null, updated_at = now() where active_run_id = ? returning repo, environment, active_run_id`,
    [runId],
  );
  const r = rows[0];
  return r ? { repo: String(r.repo), environment: String(r.environment), next: r.active_run_id == null ? null : Number(r.active_run_id) } : undefined;
}

export interface LockRow {
  repo: string;
  environment: string;
  holder: string;
  person: string;
  reason: string | null;
  expiresAt: string | null;
  createdAt: string;
}

const lockRow = (r: Record<string, unknown>): LockRow => ({
  repo: String(r.repo),
  environment: String(r.environment),
  holder: String(r.holder),
  person: String(r.person),
  reason: (r.reason as string | null) ?? null,
  expiresAt: r.expires_at ? new Date(r.expires_at as string).toISOString() : null,
  createdAt: new Date(r.created_at as string).toISOString(),
});

/**
 * Takes the lock, or renews it for the same person. A lock held by someone else is replaced only
 * once its time has run out. Returns the lock now held (undefined: someone else holds it).
 */
export async function takeLock(em: EntityManager, l: { repo: string; environment: string; holder: string; person: string; reason: string | null; expiresAt: Date | null }): Promise<LockRow | undefined> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `insert into environment_locks (repo, environment, holder, person, reason, expires_at) values (?, ?, ?, ?, ?, ?)
     on conflict (repo, environment) do update set holder = excluded.holder, person = excluded.person, reason = excluded.reason, expires_at = excluded.expires_at,
       created_at = case when environment_locks.person = excluded.person then environment_locks.created_at else now() end
     where environment_locks.person = excluded.person or (environment_locks.expires_at is not null and environment_locks.expires_at <= now())
     returning *`,
    [l.repo, l.environment, l.holder, l.person, l.reason, l.expiresAt],
  );
  return rows[0] ? lockRow(rows[0]) : undefined;
}

/** The lock in force (one whose time has run out is no lock). */
export async function currentLock(em: EntityManager, repo: string, environment: string): Promise<LockRow | undefined> {
  const rows: Array<Record<string, unknown>> = await em.execute(`select * from environment_locks where repo = ? and environment = ? and (expires_at is null or expires_at > now())`, [repo, environment]);
  return rows[0] ? lockRow(rows[0]) : undefined;
}

export async function locksOf(em: EntityManager, repos: string[]): Promise<LockRow[]> {
  if (!repos.length) return [];
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select * from environment_locks where repo in (${repos.map(() => '?').join(', ')}) and (expires_at is null or expires_at > now()) order by repo, environment`,
    repos,
  );
  return rows.map(lockRow);
}

/** Releases the lock if it is still the one `person` holds (a conditional delete). */
export async function releaseLock(em: EntityManager, repo: string, environment: string, person: string): Promise<boolean> {
  const rows: unknown[] = await em.execute(`delete from environment_locks where repo = ? and environment = ? and person = ? returning 1`, [repo, environment, person]);
  return rows.length > 0;
}

/**
 * How long a commit has run in an environment: when it first succeeded there, and when (if ever)
 * a deployment of it there failed its smoke check after that.
 */
export async function soakOf(em: EntityManager, repo: string, environment: string, sha: string): Promise<{ since: number | null; failedAt: number | null }> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select min(updated_at) filter (where state = 'success') as since, max(updated_at) filter (where state = 'verify_failed') as failed
     from deployments where repo = ? and environment = ? and sha = ?`,
    [repo, environment, sha],
  );
  const r = rows[0] ?? {};
  const since = r.since ? Date.parse(new Date(r.since as string).toISOString()) : null;
  const failed = r.failed ? Date.parse(new Date(r.failed as string).toISOString()) : null;
  return { since, failedAt: failed !== null && since !== null && failed >= since ? failed : null };
}
