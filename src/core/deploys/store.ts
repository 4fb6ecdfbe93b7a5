import type { EntityManager } from '@mikro-orm/postgresql';
import { Approval, Deployment } from '../db/entities.js';

/** All reads and writes of approvals and deployments. */

export interface DecisionRow {
  approver: string;
  decision: 'approve' | 'reject';
  reason: string | null;
  at: string;
}

export async function decisionsOf(em: EntityManager, runId: number): Promise<DecisionRow[]> {
  const rows = await em.find(Approval, { runId }, { orderBy: { id: 'asc' }, disableIdentityMap: true });
  return rows.map((r) => ({ approver: r.approver, decision: r.decision, reason: r.reason ?? null, at: new Date(r.createdAt).toISOString() }));
}

/**
 * One decision per run and person (unique key): returns false when this person has decided
 * already. `on conflict do nothing`, so a refused second decision does not abort the
 * surrounding transaction.
 */
export async function insertDecision(
  em: EntityManager,
  d: { runId: number; approver: string; person: string; decision: 'approve' | 'reject'; reason: string | null; source: string | null },
): Promise<boolean> {
  const rows: unknown[] = await em.execute(
    `insert into approvals (run_id, approver, person, decision, reason, source) values (?, ?, ?, ?, ?, ?)
     on conflict (run_id, person) do nothing returning id`,
    [d.runId, d.approver, d.person, d.decision, d.reason, d.source],
  );
  return rows.length === 1;
}

/** The run's GitHub deployment, recorded once. */
export async function recordDeployment(em: EntityManager, d: { runId: number; repo: string; environment: string; sha: string; githubDeploymentId: number }): Promise<void> {
  await em.upsert(Deployment, { ...d, state: 'created', createdAt: new Date(), updatedAt: new Date() } as never, {
    onConflictFields: ['runId'],
    onConflictAction: 'ignore',
    disableIdentityMap: true,
  } as never);
}

export async function updateDeploymentState(em: EntityManager, runId: number, state: string, urls: { environmentUrl?: string | null; logUrl?: string | null }): Promise<void> {
  await em.nativeUpdate(Deployment, { runId }, { state, ...(urls.environmentUrl !== undefined && { environmentUrl: urls.environmentUrl }), ...(urls.logUrl !== undefined && { logUrl: urls.logUrl }), updatedAt: new Date() });
}

export interface DeploymentRecord {
  runId: number;
  runRef: string;
  sha: string;
  state: string;
  runStatus: string;
  createdAt: string;
}

const deploymentRow = (r: Record<string, unknown>): DeploymentRecord => ({
  runId: Number(r.run_id),
  runRef: `R-${Number(r.number)}`,
  sha: String(r.sha),
  state: String(r.state),
  runStatus: String(r.status),
  createdAt: new Date(r.created_at as string).toISOString(),
});

/**
 * What is in an environment now: the latest deployment AutoDevHub made there, whatever became
 * of it (a deployment that failed verification is still what runs there until something replaces it).
 */
export async function currentDeployment(em: EntityManager, repo: string, environment: string, beforeRunId?: number): Promise<DeploymentRecord | undefined> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select d.run_id, r.number, r.status, d.sha, d.state, d.created_at from deployments d join workflow_runs r on r.id = d.run_id
     where d.repo = ? and d.environment = ? ${beforeRunId ? 'and d.run_id <> ?' : ''} order by d.id desc limit 1`,
    beforeRunId ? [repo, environment, beforeRunId] : [repo, environment],
  );
  return rows[0] ? deploymentRow(rows[0]) : undefined;
}

/** The latest deployment that succeeded (and passed its verification) in the environment with another commit than `notSha`. */
export async function lastGoodDeployment(em: EntityManager, repo: string, environment: string, notSha?: string): Promise<DeploymentRecord | undefined> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select d.run_id, r.number, r.status, d.sha, d.state, d.created_at from deployments d join workflow_runs r on r.id = d.run_id
     where d.repo = ? and d.environment = ? and d.state = 'success' ${notSha ? 'and d.sha <> ?' : ''} order by d.id desc limit 1`,
    notSha ? [repo, environment, notSha] : [repo, environment],
  );
  return rows[0] ? deploymentRow(rows[0]) : undefined;
}

/** Whether the commit has succeeded (verified) in the environment. */
export async function succeededIn(em: EntityManager, repo: string, environment: string, sha: string): Promise<boolean> {
  const rows: unknown[] = await em.execute(`select 1 from deployments where repo = ? and environment = ? and sha = ? and state = 'success' limit 1`, [repo, environment, sha]);
  return rows.length > 0;
}

/** Deploy runs started from a run (promotions) or against a deployment (rollbacks) that did not fail: the one to report instead of starting another. */
export async function openOrDoneFollowUps(em: EntityManager, key: 'promotedFrom' | 'rollbackOf', ref: string, environment: string): Promise<Array<{ ref: string; status: string }>> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select number, status from workflow_runs where kind = 'deploy' and input->>? = ? and input->>'environment' = ? order by id`,
    [key, ref, environment],
  );
  return rows.map((r) => ({ ref: `R-${Number(r.number)}`, status: String(r.status) }));
}

export interface LiveDeployment extends DeploymentRecord {
  environment: string;
  requestedBy: string;
}

/** What each environment of a repository runs now: its latest deployment, with who asked and when. */
export async function latestDeployments(em: EntityManager, repo: string): Promise<LiveDeployment[]> {
  const rows: Array<Record<string, unknown>> = await em.execute(
    `select distinct on (d.environment) d.environment, d.run_id, r.number, r.status, r.requested_by, d.sha, d.state, d.created_at
     from deployments d join workflow_runs r on r.id = d.run_id where d.repo = ? order by d.environment, d.id desc`,
    [repo],
  );
  return rows.map((r) => ({ ...deploymentRow(r), environment: String(r.environment), requestedBy: String(r.requested_by) }));
}
