import { createPublicKey, verify } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** A signed interaction older or newer than this is a replay, not a delivery. */
export const MAX_SKEW_SECONDS = 300;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Discord signs timestamp + raw body with the application's Ed25519 key
 * (X-Signature-Ed25519, X-Signature-Timestamp). Discord sends invalid signatures on purpose and
 * removes endpoints that accept them, so anything off is refused; so is a timestamp that is not
 * a number of seconds within five minutes of now (a captured request replayed later).
 */
export function createDiscordVerifier(publicKeyHex: string, now: () => number = Date.now) {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return function verifyDiscord(headers: { signature: string | undefined; timestamp: string | undefined }, rawBody: string): VerifyResult {
    const { signature, timestamp } = headers;
    if (!signature || !timestamp) return { ok: false, reason: 'missing X-Signature-Ed25519 or X-Signature-Timestamp' };
    if (!/^[0-9a-f]{128}$/i.test(signature)) return { ok: false, reason: 'malformed signature' };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'X-Signature-Timestamp is not a Unix time in seconds' };
    if (Math.abs(now() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'X-Signature-Timestamp is more than 5 minutes from now' };
    const good = verify(null, Buffer.from(timestamp + rawBody, 'utf8'), key, Buffer.from(signature, 'hex'));
    return good ? { ok: true } : { ok: false, reason: 'signature mismatch' };
  };
}
