import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RunEventMessage, RunSummary } from '../runs/model.js';
import type { WebhookSubscription } from '../config.js';
import { runUrl } from '../chat/presentation.js';

/**
 * Outgoing webhooks: a project's subscriptions receive its run events (filtered by kind and
 * status) as JSON, signed with the subscription's secret: `X-AutoDevHub-Signature: sha256=<hex>`,
 * the HMAC-SHA256 of `<timestamp>.<raw body>` where the timestamp (Unix seconds) is sent as
 * `X-AutoDevHub-Timestamp`. Receivers recompute it, compare in constant time and refuse
 * timestamps more than five minutes away, so a captured delivery cannot be replayed later.
 */

export const SIGNATURE_HEADER = 'x-autodevhub-signature';
export const TIMESTAMP_HEADER = 'x-autodevhub-timestamp';

export function matches(sub: Pick<WebhookSubscription, 'kinds' | 'statuses'>, event: Pick<RunEventMessage, 'kind' | 'status'>): boolean {
  return (sub.kinds.length === 0 || sub.kinds.includes(event.kind)) && (sub.statuses.length === 0 || sub.statuses.includes(event.status));
}

export function eventPayload(run: RunSummary, event: RunEventMessage, publicUrl: string): Record<string, unknown> {
  return {
    type: `run.${event.status}`,
    run: { id: run.id, ref: run.ref, kind: run.kind, projectKey: run.projectKey, requestedBy: run.requestedBy, url: runUrl(publicUrl, run.ref) },
    event: { seq: event.seq, stage: event.stage, status: event.status, progress: event.progress, message: event.message, at: event.at, data: event.data },
  };
}

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does (and what the tests do): recompute, compare in constant time, bound the age. */
export function verifySignature(secret: string, headers: Record<string, string | string[] | undefined>, body: string, nowMs = Date.now(), toleranceSec = 300): boolean {
  const timestamp = Number(headers[TIMESTAMP_HEADER]);
  const given = String(headers[SIGNATURE_HEADER] ?? '');
  if (!Number.isInteger(timestamp) || Math.abs(nowMs / 1000 - timestamp) > toleranceSec) return false;
  const expected = Buffer.from(sign(secret, timestamp, body));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export function deliveryHeaders(secret: string, body: string, d: { id: number; event: string }, nowMs = Date.now()): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'AutoDevHub-Webhooks/1',
    'x-autodevhub-event': d.event,
    'x-autodevhub-delivery': String(d.id),
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: sign(secret, timestamp, body),
  };
}
