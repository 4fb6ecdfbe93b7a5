import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SignJWT, jwtVerify } from 'jose';

/**
 * Console access: the process prints a one-time sign-in link; opening it exchanges the link's
 * token (stored only as a hash, usable once) for a signed session cookie. The console is never
 * open to whoever can reach the port.
 */

export const SESSION_TTL_SECONDS = 7 * 24 * 3600;
const SIGNIN_TTL_SECONDS = 24 * 3600;

export interface Session {
  subject: string;
  admin: boolean;
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function createSignInToken(em: EntityManager, subject: string, ttlSeconds = SIGNIN_TTL_SECONDS): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await em
    .getConnection()
    .execute(`insert into api_tokens (kind, token_hash, subject, expires_at) values ('signin', ?, ?, now() + make_interval(secs => ?))`, [
      hash(token),
      subject,
      ttlSeconds,
    ]);
  return token;
}

/** Consumed atomically: of two clicks on the same link, one signs in. */
export async function consumeSignInToken(em: EntityManager, token: string): Promise<string | undefined> {
  const rows: Array<{ subject: string }> = await em.getConnection().execute(
    `update api_tokens set used_at = now()
     where token_hash = ? and kind = 'signin' and used_at is null and revoked_at is null and expires_at > now()
     returning subject`,
    [hash(token)],
  );
  return rows[0]?.subject;
}

export async function signSession(secret: string, session: Session): Promise<string> {
  return new SignJWT({ adm: session.admin })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(session.subject)
    .setAudience('autodevhub:console')
    .setIssuedAt()
    .setExpirationTime(`${SESSION_TTL_SECONDS}s`)
    .sign(key(secret));
}

export async function verifySession(secret: string, token: string | undefined): Promise<Session | undefined> {
  if (!token) return undefined;
  try {
    const { payload } = await jwtVerify(token, key(secret), { audience: 'autodevhub:console', algorithms: ['HS256'] });
    if (!payload.sub) return undefined;
    return { subject: payload.sub, admin: payload.adm === true };
  } catch {
    return undefined;
  }
}
