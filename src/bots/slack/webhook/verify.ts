import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: requests more than five minutes from now, either way, are refused. */
export const MAX_SKEW_SECONDS = 300;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies X-Slack-Signature over the raw body: v0=HMAC-SHA256(secret, "v0:{ts}:{body}").
 * Written here rather than taken from Bolt because Bolt's helper accepts timestamps from the
 * future; this one refuses both directions, and compares in constant time.
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { signature: string | undefined; timestamp: string | undefined },
  rawBody: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): VerifyResult {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return { ok: false, reason: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed X-Slack-Request-Timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale or future timestamp' };
  if (!signature.startsWith('v0=')) return { ok: false, reason: 'unknown signature version' };
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest();
  let given: Buffer;
  try {
    given = Buffer.from(signature.slice(3), 'hex');
  } catch {
    return { ok: false, reason: 'malformed signature' };
  }
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}

export function signSlackRequest(signingSecret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}
