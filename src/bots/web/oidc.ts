import * as client from 'openid-client';
import { SignJWT, jwtVerify } from 'jose';
import type { OidcConfig } from '../../core/config.js';
import type { SsoClaims } from '../../core/access/sessions.js';
import { UnauthorizedError } from '../../core/errors.js';

/**
 * Single sign-on through any OpenID Connect provider (Okta, Entra ID, Google, Keycloak, Dex, …)
 * with openid-client: authorization code flow with PKCE, state and nonce. What must survive the
 * round trip to the provider (state, nonce, code verifier) travels in a short-lived cookie
 * signed with AUTODEVHUB_SECRET, so any web process can finish a sign-in another one started.
 */

export const OIDC_COOKIE = 'adh_oidc';
const FLOW_TTL_SECONDS = 600;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export interface Oidc {
  label: string;
  /** Where to send the browser, and the cookie that must come back with it. */
  start(): Promise<{ url: string; cookie: string }>;
  /** The callback: checks state, nonce and PKCE, exchanges the code, returns who signed in. */
  finish(callbackUrl: URL, cookie: string | undefined): Promise<SsoClaims>;
}

export function createOidc(config: OidcConfig, secret: string, publicUrl: () => string): Oidc {
  const key = new TextEncoder().encode(secret);
  const redirectUri = () => `${publicUrl()}/auth/oidc/callback`;
  let discovered: Promise<client.Configuration> | undefined;
  // Discovered on first use (and again after a failure), so a provider that is down at start
  // does not stop the service.
  const configuration = () => {
    discovered ??= discover().catch((err: unknown) => {
      discovered = undefined;
      throw err;
    });
    return discovered;
  };
  async function discover() {
    const issuer = new URL(config.issuer);
    // Plain http only for a provider on this machine (development and tests).
    const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
    return client.discovery(issuer, config.clientId, config.clientSecret ? { client_secret: config.clientSecret } : undefined, config.clientSecret ? undefined : client.None(), {
      ...(insecure && { execute: [client.allowInsecureRequests] }),
      timeout: 5,
    });
  }

  return {
    label: config.label,
    async start() {
      const cfg = await configuration();
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: redirectUri(),
        scope: config.scopes,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      const cookie = await new SignJWT({ s: state, n: nonce, v: verifier })
        .setProtectedHeader({ alg: 'HS256' })
        .setAudience('autodevhub:oidc')
        .setIssuedAt()
        .setExpirationTime(`${FLOW_TTL_SECONDS}s`)
        .sign(key);
      return { url: url.href, cookie };
    },
    async finish(callbackUrl, cookie) {
      let flow: { s: string; n: string; v: string };
      try {
        const { payload } = await jwtVerify(cookie ?? '', key, { audience: 'autodevhub:oidc', algorithms: ['HS256'] });
        flow = payload as unknown as typeof flow;
      } catch {
        throw new UnauthorizedError('This sign-in was not started here, or took longer than 10 minutes: start again.');
      }
      const cfg = await configuration();
      // The provider redirected to PUBLIC_URL; the same address is what the code was issued for.
      const current = new URL(`${redirectUri()}${callbackUrl.search}`);
      let tokens;
      try {
        tokens = await client.authorizationCodeGrant(cfg, current, { pkceCodeVerifier: flow.v, expectedState: flow.s, expectedNonce: flow.n, idTokenExpected: true });
      } catch (err) {
        throw new UnauthorizedError(`The identity provider did not confirm the sign-in: ${(err as Error).message}`);
      }
      const claims = tokens.claims()!;
      let info: Record<string, unknown> = {};
      if (cfg.serverMetadata().userinfo_endpoint && tokens.access_token) {
        info = (await client.fetchUserInfo(cfg, tokens.access_token, claims.sub).catch(() => ({}))) as Record<string, unknown>;
      }
      const all = { ...info, ...claims } as Record<string, unknown>;
      const groups = all[config.groupsClaim];
      return {
        sub: claims.sub,
        email: typeof all.email === 'string' ? all.email : undefined,
        emailVerified: all.email_verified === true,
        name: typeof all.name === 'string' ? all.name : undefined,
        groups: Array.isArray(groups) ? groups.map(String).slice(0, 100) : [],
      };
    },
  };
}
