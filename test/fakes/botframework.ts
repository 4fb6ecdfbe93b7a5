import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import { startFakeServer, sendJson, type RecordedRequest } from './http.js';
import { testServerTls } from '../helpers/tls.js';

export interface ConnectorCall {
  method: string;
  /** `create` for a new conversation (POST /v3/conversations). */
  kind: 'create' | 'activity';
  conversationId: string;
  activityId: string | undefined;
  body: Record<string, any>;
  auth: string | undefined;
}

const CONNECTOR_AUDIENCE = 'https://api.botframework.com';
const TENANT = 'botframework.com';

/**
 * Microsoft's side of Teams, over HTTPS with the suite's own CA (test/setup/tls.ts), at one
 * origin that plays three parts:
 * - the Entra authority (`BOTFRAMEWORK_LOGIN_URL`): OpenID metadata and the keys that sign the
 *   activities' tokens (`/<tenant>/discovery/v2.0/keys`, where the Agents SDK looks for them);
 * - its token endpoint, which gives the bot its own tokens for a client id and secret (client
 *   credentials, as MSAL asks for them);
 * - the Bot Framework connector at the activities' serviceUrl (v3 conversations: create, send,
 *   reply, update), which refuses a call whose bearer token it did not issue to the bot.
 */
export async function startFakeBotFramework(opts: { appId?: string; appPassword?: string } = {}) {
  const appId = opts.appId ?? 'bot-app-id';
  const appPassword = opts.appPassword ?? 'app-password';
  const channelKey = await generateKeyPair('RS256');
  const tokenKey = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(channelKey.publicKey)), kid: 'channel-key-1', use: 'sig', alg: 'RS256' };
  const calls: ConnectorCall[] = [];
  /** Connector calls refused for their token: none should ever happen. */
  const refused: Array<{ path: string; reason: string }> = [];
  const tokenRequests: Array<{ clientId: string | null; scope: string | null; ok: boolean }> = [];
  let next = 1;

  const issuerOf = (tenant: string) => `${fake.url}/${tenant}/v2.0`;

  function metadata(tenant: string) {
    return {
      issuer: issuerOf(tenant),
      authorization_endpoint: `${fake.url}/${tenant}/oauth2/v2.0/authorize`,
      token_endpoint: `${fake.url}/${tenant}/oauth2/v2.0/token`,
      jwks_uri: `${fake.url}/${tenant}/discovery/v2.0/keys`,
      end_session_endpoint: `${fake.url}/${tenant}/oauth2/v2.0/logout`,
      response_types_supported: ['code', 'token'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
    };
  }

  async function issueToken(tenant: string, req: RecordedRequest) {
    const form = new URLSearchParams(req.body);
    const ok = form.get('grant_type') === 'client_credentials' && form.get('client_id') === appId && form.get('client_secret') === appPassword;
    tokenRequests.push({ clientId: form.get('client_id'), scope: form.get('scope'), ok });
    if (!ok) return { status: 401, body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' } };
    const audience = (form.get('scope') ?? '').replace(/\/\.default$/, '');
    const accessToken = await new SignJWT({ appid: appId, tid: tenant })
      .setProtectedHeader({ alg: 'RS256', kid: 'token-key-1', typ: 'JWT' })
      .setIssuer(issuerOf(tenant))
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(tokenKey.privateKey);
    return { status: 200, body: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: accessToken } };
  }

  /** The connector accepts only a token from our token endpoint, for the bot, for the connector. */
  async function bearerProblem(auth: string | undefined): Promise<string | null> {
    const token = /^Bearer (.+)$/.exec(auth ?? '')?.[1];
    if (!token) return 'no bearer token';
    try {
      const { payload } = await jwtVerify(token, tokenKey.publicKey, { audience: CONNECTOR_AUDIENCE, issuer: issuerOf(TENANT) });
      return payload.appid === appId ? null : `token for ${String(payload.appid)}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  async function connector(req: RecordedRequest, pathname: string) {
    const create = req.method === 'POST' && pathname === '/v3/conversations';
    const m = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(pathname);
    if (!create && !m) return { status: 404, body: { error: { code: 'NotFound', message: 'no route' } } };
    const problem = await bearerProblem(req.headers.authorization as string | undefined);
    // Anonymous mode (local testing) sends no token at all; anything else must be valid.
    if (problem && !(anonymous && !req.headers.authorization)) {
      refused.push({ path: pathname, reason: problem });
      return { status: 401, body: { message: 'Authorization has been denied for this request.' } };
    }
    const body = JSON.parse(req.body || '{}') as Record<string, any>;
    if (create) {
      const member = body.members?.[0]?.id as string | undefined;
      if (!member || body.isGroup) return { status: 400, body: { error: { code: 'BadArgument', message: 'a 1:1 conversation needs one member' } } };
      // What Teams answers when the app is not installed where the person can be reached.
      if (noOneToOne.has(member)) return { status: 403, body: { error: { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' } } };
      const id = `a:1on1-${member}`;
      calls.push({ method: 'POST', kind: 'create', conversationId: id, activityId: undefined, body, auth: req.headers.authorization as string | undefined });
      return { status: 201, body: { id } };
    }
    calls.push({ method: req.method, kind: 'activity', conversationId: decodeURIComponent(m![1]!), activityId: m![2] ? decodeURIComponent(m![2]) : undefined, body, auth: req.headers.authorization as string | undefined });
    if (req.method === 'PUT') return { status: 200, body: { id: decodeURIComponent(m![2]!) } };
    return { status: 200, body: { id: `activity-${next++}` } };
  }

  let anonymous = false;
  const noOneToOne = new Set<string>();
  const fake = await startFakeServer(
    async (req, res) => {
      const { pathname } = new URL(req.path, 'https://x');
      const authority = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/token)$/.exec(pathname);
      if (authority?.[2] === 'v2.0/.well-known/openid-configuration') return sendJson(res, 200, metadata(authority[1]!));
      if (authority?.[2] === 'discovery/v2.0/keys') return sendJson(res, 200, { keys: [jwk] });
      if (authority?.[2] === 'oauth2/v2.0/token' && req.method === 'POST') {
        const { status, body } = await issueToken(authority[1]!, req);
        return sendJson(res, status, body);
      }
      const { status, body } = await connector(req, pathname);
      return sendJson(res, status, body);
    },
    { tls: testServerTls() },
  );

  /** A channel token for an activity, as the Bot Framework sends it to the bot. */
  async function token(claims: { aud?: string; serviceUrl?: string; expiresIn?: string; issuer?: string } = {}, key: CryptoKey = channelKey.privateKey) {
    return new SignJWT({ serviceurl: claims.serviceUrl ?? fake.url })
      .setProtectedHeader({ alg: 'RS256', kid: 'channel-key-1', typ: 'JWT' })
      .setIssuer(claims.issuer ?? issuerOf(TENANT))
      .setAudience(claims.aud ?? appId)
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 60)
      .setExpirationTime(claims.expiresIn ?? '1h')
      .sign(key);
  }

  return {
    ...fake,
    calls,
    refused,
    tokenRequests,
    appId,
    /** What the app needs to trust this fake (the authority is the login URL). */
    env: { MICROSOFT_APP_ID: appId, MICROSOFT_APP_PASSWORD: appPassword, BOTFRAMEWORK_LOGIN_URL: fake.url },
    token,
    /** Headers for posting an activity with a valid channel token. */
    async headers(): Promise<Record<string, string>> {
      return { 'content-type': 'application/json', authorization: `Bearer ${await token()}` };
    },
    /** Lets calls with no Authorization header through (the local-testing mode sends none). */
    /** Teams will not open a 1:1 chat with this member (29:… id). */
    refuseOneToOne(member: string) {
      noOneToOne.add(member);
    },
    allowAnonymous(allow: boolean) {
      anonymous = allow;
    },
    async otherKey() {
      return (await generateKeyPair('RS256')).privateKey;
    },
    /** The token the bot presented on a connector call is one this fake issued to it. */
    async validBearer(auth: string | undefined) {
      return (await bearerProblem(auth)) === null;
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

/** An Adaptive Card Universal Action (Action.Execute) click; `trigger: 'automatic'` is a card refresh. */
export function teamsAction(serviceUrl: string, verb: string, data: Record<string, unknown>, user: string, trigger: 'manual' | 'automatic' = 'manual') {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: `invoke-${++seq}`,
    ...channelActivity(serviceUrl, user),
    value: { action: { type: 'Action.Execute', verb, data }, trigger },
    channelData: { tenant: { id: 'tenant-1' } },
  };
}
