import type { EntityManager } from '@mikro-orm/postgresql';
import { WebhookDelivery } from '../db/entities.js';

/** All reads and writes of webhook_deliveries and notifications. */

export interface DeliveryRecord {
  id: number;
  projectKey: string;
  url: string;
  runId: number;
  seq: number;
  event: string;
  payload: Record<string, unknown>;
  state: 'pending' | 'delivered' | 'failed' | 'refused';
  attempts: number;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
  redeliveryOf: number | null;
  requestedBy: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

type Row = Record<string, unknown>;
const iso = (v: unknown) => (v == null ? null : new Date(v as string).toISOString());

function toDelivery(r: Row): DeliveryRecord {
  return {
    id: Number(r.id),
    projectKey: String(r.project_key),
    url: String(r.url),
    runId: Number(r.run_id),
    seq: Number(r.seq),
    event: String(r.event),
    payload: (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as Record<string, unknown>,
    state: r.state as DeliveryRecord['state'],
    attempts: Number(r.attempts),
    responseStatus: r.response_status == null ? null : Number(r.response_status),
    responseBody: (r.response_body as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    redeliveryOf: r.redelivery_of == null ? null : Number(r.redelivery_of),
    requestedBy: (r.requested_by as string | null) ?? null,
    deliveredAt: iso(r.delivered_at),
    createdAt: iso(r.created_at)!,
  };
}

/** One delivery per subscription and event: returns the new row's id, or undefined when it exists. */
export async function insertDelivery(em: EntityManager, d: { projectKey: string; url: string; runId: number; seq: number; event: string; payload: Record<string, unknown> }): Promise<number | undefined> {
  const rows: Row[] = await em.execute(
    `insert into webhook_deliveries (project_key, url, run_id, seq, event, payload) values (?, ?, ?, ?, ?, ?::jsonb)
     on conflict (project_key, url, run_id, seq) where redelivery_of is null do nothing returning id`,
    [d.projectKey, d.url, d.runId, d.seq, d.event, JSON.stringify(d.payload)],
  );
  return rows[0] ? Number(rows[0].id) : undefined;
}

/** A redelivery: the same event again, as a row of its own. */
export async function insertRedelivery(em: EntityManager, of: DeliveryRecord, requestedBy: string): Promise<number> {
  const rows: Row[] = await em.execute(
    `insert into webhook_deliveries (project_key, url, run_id, seq, event, payload, redelivery_of, requested_by) values (?, ?, ?, ?, ?, ?::jsonb, ?, ?) returning id`,
    [of.projectKey, of.url, of.runId, of.seq, of.event, JSON.stringify(of.payload), of.id, requestedBy],
  );
  return Number(rows[0]!.id);
}

export async function findDelivery(em: EntityManager, id: number): Promise<DeliveryRecord | undefined> {
  if (!Number.isSafeInteger(id) || id <= 0) return undefined;
  const rows: Row[] = await em.execute(`select * from webhook_deliveries where id = ?`, [id]);
  return rows[0] ? toDelivery(rows[0]) : undefined;
}

export async function listDeliveries(em: EntityManager, filter: { projectKey?: string; runId?: number; limit: number }): Promise<DeliveryRecord[]> {
  const rows = await em.find(
    WebhookDelivery,
    { ...(filter.projectKey && { projectKey: filter.projectKey }), ...(filter.runId && { runId: filter.runId }) },
    { orderBy: { id: 'desc' }, limit: filter.limit, disableIdentityMap: true },
  );
  return rows.map((r) =>
    toDelivery({
      id: r.id, project_key: r.projectKey, url: r.url, run_id: r.runId, seq: r.seq, event: r.event, payload: r.payload, state: r.state, attempts: r.attempts,
      response_status: r.responseStatus, response_body: r.responseBody, error: r.error, redelivery_of: (r as { redeliveryOf?: number | null }).redeliveryOf ?? null,
      requested_by: r.requestedBy, delivered_at: r.deliveredAt, created_at: r.createdAt,
    }),
  );
}

/** Deliveries still pending whose job may be gone (Redis flushed): the sweep hands them out again. */
export async function pendingDeliveries(em: EntityManager, olderThanMs: number, limit = 200): Promise<number[]> {
  const rows: Row[] = await em.execute(`select id from webhook_deliveries where state = 'pending' and updated_at < now() - make_interval(secs => ?) order by id limit ?`, [olderThanMs / 1000, limit]);
  return rows.map((r) => Number(r.id));
}

export async function recordAttempt(
  em: EntityManager,
  id: number,
  a: { state: DeliveryRecord['state']; status: number | null; body: string | null; error: string | null },
): Promise<void> {
  await em.execute(
    `update webhook_deliveries set attempts = attempts + 1, state = ?, response_status = ?, response_body = ?, error = ?,
       delivered_at = case when ? = 'delivered' then now() else delivered_at end, updated_at = now() where id = ?`,
    [a.state, a.status, a.body, a.error, a.state, id],
  );
}

/** Claims a notification (email to one person about one run, of one kind): false when it was sent already. */
export async function claimNotification(em: EntityManager, n: { runId: number; channel: string; recipient: string; kind: string }): Promise<boolean> {
  const rows: Row[] = await em.execute(
    `insert into notifications (run_id, channel, recipient, kind) values (?, ?, ?, ?) on conflict (run_id, channel, recipient, kind) do nothing returning id`,
    [n.runId, n.channel, n.recipient, n.kind],
  );
  return rows.length === 1;
}

export async function settleNotification(em: EntityManager, n: { runId: number; channel: string; recipient: string; kind: string }, outcome: { sent: true } | { sent: false; error: string }): Promise<void> {
  if (outcome.sent) {
    await em.execute(`update notifications set state = 'sent' where run_id = ? and channel = ? and recipient = ? and kind = ?`, [n.runId, n.channel, n.recipient, n.kind]);
  } else {
    // Not sent: the claim goes, so the retried job sends it.
    await em.execute(`delete from notifications where run_id = ? and channel = ? and recipient = ? and kind = ?`, [n.runId, n.channel, n.recipient, n.kind]);
  }
}
