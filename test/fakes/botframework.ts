import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startFakeServer, sendJson } from './http.js';

export interface ConnectorCall {
  method: string;
  conversationId: string;
  activityId: string | undefined;
  body: Record<string, any>;
  auth: string | undefined;
}

/**
 * The Bot Framework side of Teams: the connector REST API (v3 conversations/activities: send,
 * reply, update) that the bot posts to, and the OpenID metadata + signing keys that incoming
 * tokens are checked against, as the Bot Framework authentication docs describe.
 */
export async function startFakeBotFramework() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'fake-key-1', use: 'sig', alg: 'RS256', endorsements: ['msteams'] };
  const calls: ConnectorCall[] = [];
  let next = 1;
  const fake = await startFakeServer((req, res) => {
    const url = new URL(req.path, 'http://x');
    if (url.pathname === '/openid') {
      return sendJson(res, 200, {
        issuer: 'https://api.botframework.com',
        authorization_endpoint: 'https://invalid.botframework.com',
        jwks_uri: `${fake.url}/keys`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      });
    }
    if (url.pathname === '/keys') return sendJson(res, 200, { keys: [jwk] });
    const m = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: { code: 'NotFound', message: 'no route' } });
    const body = JSON.parse(req.body || '{}') as Record<string, any>;
    calls.push({ method: req.method, conversationId: decodeURIComponent(m[1]!), activityId: m[2] ? decodeURIComponent(m[2]) : undefined, body, auth: req.headers.authorization as string | undefined });
    if (req.method === 'PUT') return sendJson(res, 200, { id: decodeURIComponent(m[2]!) });
    return sendJson(res, 200, { id: `activity-${next++}` });
  });
  return {
    ...fake,
    calls,
    openIdUrl: `${fake.url}/openid`,
    /** A channel token as the Bot Framework issues it to a bot. */
    async token(claims: { aud: string; serviceUrl: string; expiresIn?: string; issuer?: string }, key = privateKey) {
      return new SignJWT({ serviceurl: claims.serviceUrl })
        .setProtectedHeader({ alg: 'RS256', kid: 'fake-key-1', typ: 'JWT' })
        .setIssuer(claims.issuer ?? 'https://api.botframework.com')
        .setAudience(claims.aud)
        .setIssuedAt()
        .setNotBefore(Math.floor(Date.now() / 1000) - 60)
        .setExpirationTime(claims.expiresIn ?? '1h')
        .sign(key);
    },
    async otherKey() {
      return (await generateKeyPair('RS256')).privateKey;
    },
  };
}

let seq = 0;

/** Who sends, and in which Teams channel conversation: the same for messages and card actions. */
function channelActivity(serviceUrl: string, user: string) {
  return {
    timestamp: new Date().toISOString(),
    serviceUrl,
    channelId: 'msteams',
    from: { id: `29:${user}`, name: user, aadObjectId: user },
    conversation: { isGroup: true, conversationType: 'channel', id: '19:abc@thread.tacv2;messageid=1712345000', tenantId: 'tenant-1' },
    recipient: { id: '28:bot-app-id', name: 'AutoDevHub' },
  };
}

/** A Teams channel message mentioning the bot, as the Bot Framework delivers it. */
export function teamsMessage(serviceUrl: string, text: string, user = 'aad-dev', opts: { id?: string } = {}) {
  return {
    type: 'message',
    id: opts.id ?? `1712345${++seq}`,
    ...channelActivity(serviceUrl, user),
    textFormat: 'plain',
    text: `<at>AutoDevHub</at> ${text}`,
    entities: [{ type: 'mention', mentioned: { id: '28:bot-app-id', name: 'AutoDevHub' }, text: '<at>AutoDevHub</at>' }],
    channelData: { teamsChannelId: '19:abc@thread.tacv2', teamsTeamId: '19:team@thread.tacv2', tenant: { id: 'tenant-1' } },
  };
}

/** An Adaptive Card Universal Action (Action.Execute) click. */
export function teamsAction(serviceUrl: string, verb: string, data: Record<string, unknown>, user: string) {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: `invoke-${++seq}`,
    ...channelActivity(serviceUrl, user),
    value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
    channelData: { tenant: { id: 'tenant-1' } },
  };
}
