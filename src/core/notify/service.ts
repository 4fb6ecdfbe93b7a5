import type { Actor, CoreContext } from '../context.js';
import { authorize } from '../access/authorize.js';
import { decidersOf, handlesOf } from '../access/deciders.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { audit } from '../audit/store.js';
import { eventsAfter, getRun, markNotified, notifiedSeq } from '../runs/store.js';
import { isFinal, type RunEventMessage, type RunSummary } from '../runs/model.js';
import { identitiesOf } from '../access/identities.js';
import { policyFor, projectFor } from '../deploys/policy.js';
import { approvalEmail, outcomeEmail, type MailMessage } from './email.js';
import { guardedPost, RefusedAddress } from './net.js';
import { deliveryHeaders, eventPayload, matches } from './webhooks.js';
import { claimNotification, findDelivery, insertDelivery, insertRedelivery, listDeliveries, pendingDeliveries, recordAttempt, settleNotification, type DeliveryRecord } from './store.js';
import type { EntityManager } from '@mikro-orm/postgresql';

export type { DeliveryRecord } from './store.js';

const STALE_EVENT_MS = 6 * 3_600_000;

/**
 * Notifications of run events beyond chat: outgoing webhooks and email. The notify job of a run
 * goes through its events after `notified_seq`: each event becomes one webhook delivery per
 * matching subscription (a row first, unique per subscription and event, then a job of its own
 * that retries with backoff), and emails go out once per person and kind (a claimed row). Then
 * `notified_seq` moves on; a sweep catches runs whose notify job was lost.
 */
export async function notifyRun(ctx: CoreContext, runId: number): Promise<{ deliveries: number[]; emails: number }> {
  const run = await getRun(ctx.em, runId);
  const from = await notifiedSeq(ctx.em, runId);
  if (from >= run.lastSeq) return { deliveries: [], emails: 0 };
  const events = await eventsAfter(ctx.em, run, from);
  const project = projectFor(ctx, run.projectKey);
  const deliveries: number[] = [];
  let emails = 0;
  for (const event of events) {
    // An event hours old (notifications switched on later, a long outage) is history, not news.
    if (Date.now() - Date.parse(event.at) > STALE_EVENT_MS) continue;
    for (const sub of project?.webhooks ?? []) {
      if (!matches(sub, event)) continue;
      const id = await insertDelivery(ctx.em, { projectKey: project!.key, url: sub.url, runId, seq: event.seq, event: `run.${event.status}`, payload: eventPayload(run, event, ctx.config.publicUrl) });
      if (id) deliveries.push(id);
    }
    if (ctx.mailer) emails += await emailsFor(ctx, run, event);
  }
  if (deliveries.length) await ctx.scheduler.enqueueWebhookDeliveries(deliveries);
  await markNotified(ctx.em, runId, events.at(-1)?.seq ?? run.lastSeq);
  return { deliveries, emails };
}

/** Approval requests to approvers with an address (not the requester), outcomes of deploys to the requester. */
async function emailsFor(ctx: CoreContext, run: RunSummary, event: RunEventMessage): Promise<number> {
  const emails = ctx.config.emails;
  const out: Array<{ to: string; kind: string; message: (to: string) => MailMessage }> = [];
  if (run.kind === 'deploy' && event.status === 'waiting_approval' && event.data?.approvals) {
    const project = projectFor(ctx, run.projectKey);
    const policy = project ? policyFor(project, run.input.environment, run) : undefined;
    const requester = await identitiesOf(ctx.em, run.requestedBy);
    // Approvers may be handles, people's names or groups: each reached at any address of theirs.
    for (const { handle, name } of handlesOf(ctx, decidersOf(ctx, policy))) {
      const to = emails[handle] ?? (name ? emails[name] : undefined) ?? (handle.startsWith('email:') ? handle.slice(6) : undefined);
      if (to && !(policy?.prevent_self_approval && requester.includes(handle))) out.push({ to, kind: 'approval_request', message: (t) => approvalEmail(run as RunSummary & { kind: 'deploy' }, ctx.config.publicUrl, t) });
    }
  }
  if (run.kind === 'deploy' && isFinal(event.status) && emails[run.requestedBy]) {
    out.push({ to: emails[run.requestedBy]!, kind: 'outcome', message: (t) => outcomeEmail(run, ctx.config.publicUrl, t) });
  }
  let sent = 0;
  for (const o of [...new Map(out.map((x) => [`${x.kind}:${x.to}`, x])).values()]) {
    const key = { runId: run.id, channel: 'email', recipient: o.to, kind: o.kind };
    if (!(await claimNotification(ctx.em, key))) continue;
    try {
      await ctx.mailer!.send(o.message(o.to));
      await settleNotification(ctx.em, key, { sent: true });
      sent++;
    } catch (err) {
      await settleNotification(ctx.em, key, { sent: false, error: (err as Error).message });
      throw new Error(`email to ${o.to} not sent: ${(err as Error).message}`);
    }
  }
  return sent;
}

export type DeliveryOutcome = 'delivered' | 'refused' | 'gone';

/**
 * One attempt at a webhook delivery. 2xx: delivered. A refused address or a subscription that no
 * longer exists: recorded, not retried. Anything else is recorded and thrown, so the job retries
 * with backoff; the last attempt records the delivery as failed.
 */
export async function deliverWebhook(ctx: CoreContext, deliveryId: number, attempt: { number: number; last: boolean }): Promise<DeliveryOutcome> {
  const d = await findDelivery(ctx.em, deliveryId);
  if (!d || d.state === 'delivered' || d.state === 'refused') return 'gone';
  const sub = projectFor(ctx, d.projectKey)?.webhooks.find((w) => w.url === d.url);
  if (!sub) {
    await recordAttempt(ctx.em, d.id, { state: 'failed', status: null, body: null, error: 'The subscription is no longer configured.' });
    return 'gone';
  }
  const body = JSON.stringify({ ...d.payload, deliveryId: d.id, attempt: attempt.number });
  try {
    const res = await guardedPost(d.url, body, deliveryHeaders(sub.secret, body, d), { timeoutMs: ctx.config.webhooks.timeoutMs, allowedCidrs: ctx.config.webhooks.allowPrivateCidrs });
    if (res.status >= 200 && res.status < 300) {
      await recordAttempt(ctx.em, d.id, { state: 'delivered', status: res.status, body: res.body, error: null });
      return 'delivered';
    }
    await recordAttempt(ctx.em, d.id, { state: attempt.last ? 'failed' : 'pending', status: res.status, body: res.body, error: `answered ${res.status}` });
    throw new Error(`${d.url} answered ${res.status}`);
  } catch (err) {
    if (err instanceof RefusedAddress) {
      await recordAttempt(ctx.em, d.id, { state: 'refused', status: null, body: null, error: `Refused: ${err.message}; private and loopback addresses need WEBHOOK_ALLOW_PRIVATE_CIDRS.` });
      return 'refused';
    }
    if (!(err as Error).message.includes(' answered ')) {
      await recordAttempt(ctx.em, d.id, { state: attempt.last ? 'failed' : 'pending', status: null, body: null, error: (err as Error).message.slice(0, 500) });
    }
    throw err;
  }
}

/** The console's Redeliver: the same event, delivered again as a new delivery. */
export async function redeliverWebhook({ ctx, actor }: { ctx: CoreContext; actor: Actor }, deliveryId: number): Promise<DeliveryRecord> {
  const d = await findDelivery(ctx.em, deliveryId);
  if (!d) throw new NotFoundError(`There is no webhook delivery ${deliveryId}.`);
  await authorize(ctx, actor, 'webhook.redeliver', { project: d.projectKey, target: `webhook-delivery:${d.id}` });
  if (!projectFor(ctx, d.projectKey)?.webhooks.some((w) => w.url === d.url)) throw new ConflictError(`The subscription of delivery ${d.id} is no longer configured.`);
  const id = await insertRedelivery(ctx.em, d, actor.id);
  await audit(ctx, { actor: actor.id, action: 'webhook.redelivered', target: `webhook-delivery:${d.id}`, source: actor.channel ?? actor.platform, data: { redelivery: id, url: d.url } });
  await ctx.scheduler.enqueueWebhookDeliveries([id]);
  return (await findDelivery(ctx.em, id))!;
}

export function webhookDeliveries(ctx: Pick<CoreContext, 'em'>, filter: { projectKey?: string; runId?: number; limit?: number }): Promise<DeliveryRecord[]> {
  return listDeliveries(ctx.em, { ...filter, limit: Math.min(Math.max(filter.limit ?? 50, 1), 200) });
}

/** The deliveries a person may see: of one project (its maintainers), or of all (admins). */
export async function listWebhookDeliveries({ ctx, actor }: { ctx: CoreContext; actor: Actor }, filter: { projectKey?: string; runId?: number; limit?: number }): Promise<DeliveryRecord[]> {
  await authorize(ctx, actor, 'webhook.read', { project: filter.projectKey ?? null });
  return webhookDeliveries(ctx, filter);
}


/** Deliveries still pending for a while: their job may have been lost with Redis (the sweep re-adds; an existing job id is kept). */
export function stalledWebhookDeliveries(em: EntityManager, olderThanMs: number): Promise<number[]> {
  return pendingDeliveries(em, olderThanMs);
}
