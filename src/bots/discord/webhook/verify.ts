import { createPublicKey, verify } from 'node:crypto';

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow it. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Discord signs timestamp + raw body with the application's Ed25519 key
 * (X-Signature-Ed25519, X-Signature-Timestamp). Discord sends invalid signatures on purpose and
 * removes endpoints that accept them, so anything off is refused.
 */
export function createDiscordVerifier(publicKeyHex: string) {
  const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]), format: 'der', type: 'spki' });
  return function verifyDiscord(headers: { signature: string | undefined; timestamp: string | undefined }, rawBody: string): VerifyResult {
    const { signature, timestamp } = headers;
    if (!signature || !timestamp) return { ok: false, reason: 'missing X-Signature-Ed25519 or X-Signature-Timestamp' };
    if (!/^[0-9a-f]{128}$/i.test(signature)) return { ok: false, reason: 'malformed signature' };
    const good = verify(null, Buffer.from(timestamp + rawBody, 'utf8'), key, Buffer.from(signature, 'hex'));
    return good ? { ok: true } : { ok: false, reason: 'signature mismatch' };
  };
}
