import { ConfidentialClientApplication } from '@azure/msal-node';
import type { AuthConfiguration, AuthProvider, Connections, Request, WebResponse } from '@microsoft/agents-hosting';

type JwtPayload = NonNullable<Request['user']>;
import type { TeamsConfig } from '../../core/config.js';

/**
 * How the Agents SDK is configured from our variables, and the two places where we do more than
 * hand it the settings (docs/DESIGN.md, "Discord and Teams", says why):
 * - outgoing tokens come from an MSAL client whose `knownAuthorities` holds the configured
 *   authority's host, so MSAL asks that authority for its metadata instead of first calling
 *   login.microsoftonline.com's instance discovery (the SDK builds its MSAL client without a
 *   way to pass that option; a sovereign or private authority, or the test suite's, needs it);
 * - the `serviceurl` claim must equal the activity's serviceUrl, or the request is a 401.
 */

const CONNECTION = 'serviceConnection';

/** Our variables as the SDK's connection settings (one connection, for every serviceUrl). */
export function authConfiguration(config: TeamsConfig): AuthConfiguration {
  const settings: AuthConfiguration = {
    clientId: config.appId,
    ...(config.appType === 'UserAssignedMSI' ? { authType: 'UserManagedIdentity' } : { authType: 'ClientSecret', clientSecret: config.appPassword }),
    // Multi-tenant bots take their tokens from the botframework.com tenant (the SDK's default when
    // no tenant is given); single-tenant bots from their own.
    ...(config.appType === 'SingleTenant' && config.tenantId && { tenantId: config.tenantId }),
    ...(config.loginUrl && { authorityEndpoint: config.loginUrl }),
    ...(config.tokenIssuer && { issuers: [config.tokenIssuer] }),
    // Off by default in the SDK "for backward compatibility": a token from another tenant with our
    // audience would otherwise pass.
    validateIssuer: true,
  };
  return { ...settings, connections: new Map([[CONNECTION, settings]]), connectionsMap: [{ serviceUrl: '*', connection: CONNECTION }] };
}

/** The bot's own tokens (client credentials), from the authority the SDK resolved. */
class ClientSecretTokenProvider implements AuthProvider {
  private readonly client: ConfidentialClientApplication;
  constructor(readonly connectionSettings: AuthConfiguration) {
    const authority = connectionSettings.authorityEndpoint ?? connectionSettings.authority ?? 'https://login.microsoftonline.com';
    const url = new URL(authority);
    const path = url.pathname.replace(/\/+$/, '');
    const full = `${url.origin}${path && path !== '/' ? path : `/${connectionSettings.tenantId ?? 'botframework.com'}`}`;
    this.client = new ConfidentialClientApplication({
      auth: { clientId: connectionSettings.clientId!, clientSecret: connectionSettings.clientSecret!, authority: full, knownAuthorities: [url.host] },
    });
  }
  async getAccessToken(a: AuthConfiguration | string, b?: string): Promise<string> {
    const scope = typeof a === 'string' ? a : b!;
    // MSAL answers from its cache until the token is close to expiry.
    const result = await this.client.acquireTokenByClientCredential({ scopes: [`${scope}/.default`] });
    if (!result?.accessToken) throw new Error('the token endpoint returned no access token');
    return result.accessToken;
  }
  getAgenticApplicationToken(): Promise<string> {
    return Promise.reject(new Error('agentic tokens are not used by AutoDevHub'));
  }
  getAgenticInstanceToken(): Promise<string> {
    return Promise.reject(new Error('agentic tokens are not used by AutoDevHub'));
  }
  getAgenticUserToken(): Promise<string> {
    return Promise.reject(new Error('agentic tokens are not used by AutoDevHub'));
  }
  acquireTokenOnBehalfOf(): Promise<string> {
    return Promise.reject(new Error('on-behalf-of tokens are not used by AutoDevHub'));
  }
}

/**
 * The SDK's connection manager with our token provider for client-secret bots; a managed
 * identity (no authority, no secret) stays with the SDK's own MSAL provider.
 */
export function withTokenProvider(base: Connections, auth: AuthConfiguration): Connections {
  if (auth.authType !== 'ClientSecret') return base;
  const provider = new ClientSecretTokenProvider(base.getDefaultConnectionConfiguration());
  return {
    getConnection: () => provider,
    getDefaultConnection: () => provider,
    getTokenProvider: () => provider,
    getTokenProviderFromActivity: () => provider,
    getDefaultConnectionConfiguration: () => base.getDefaultConnectionConfiguration(),
  };
}

/** A response object for the SDK's JWT middleware that only remembers the status it set. */
export function recordingResponse() {
  const res = {
    statusCode: 200,
    body: undefined as unknown,
    headersSent: false,
    writableEnded: false,
    status(code: number) {
      res.statusCode = code;
      return res;
    },
    setHeader() {
      return res;
    },
    send(body?: unknown) {
      res.body = body;
      return res;
    },
    end() {
      res.writableEnded = true;
      return res;
    },
  };
  return res satisfies WebResponse;
}

export type Authenticated = { ok: true; identity: JwtPayload } | { ok: false; reason: string };

/**
 * The SDK's checks (signature against the authority's keys, audience, expiry, issuer), then the
 * serviceUrl claim: a token issued for one channel endpoint must not send us to another.
 */
export async function authenticate(
  authorize: (req: Request, res: WebResponse, next: () => void) => Promise<void>,
  headers: Record<string, string | undefined>,
  activity: { serviceUrl?: unknown },
): Promise<Authenticated> {
  const req: Request = { method: 'POST', headers: { authorization: headers.authorization } };
  const res = recordingResponse();
  let passed = false;
  await authorize(req, res, () => {
    passed = true;
  });
  if (!passed || !req.user) return { ok: false, reason: JSON.stringify(res.body ?? res.statusCode) };
  const claim = req.user.serviceurl;
  if (typeof claim !== 'string' || typeof activity.serviceUrl !== 'string' || normalise(claim) !== normalise(activity.serviceUrl)) {
    return { ok: false, reason: `the serviceurl claim (${String(claim)}) is not the activity's serviceUrl` };
  }
  return { ok: true, identity: req.user };
}

const normalise = (url: string) => url.trim().replace(/\/+$/, '').toLowerCase();
