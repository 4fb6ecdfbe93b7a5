import { startFakeServer, sendJson } from './http.js';

export interface DiscordCall {
  method: string;
  route: string;
  body: Record<string, any> | null;
  auth: string | undefined;
  at: number;
  status?: number;
}

/**
 * The Discord REST API (v10) endpoints AutoDevHub uses: the interaction webhook (edit the
 * deferred @original, follow-ups) and channel messages with the bot token. A rate-limit mode
 * answers 429 with retry_after, as Discord documents.
 */
export async function startFakeDiscord(opts: { applicationId: string; botToken: string }) {
  const calls: DiscordCall[] = [];
  const messages = new Map<string, { channel_id: string; body: Record<string, any> }>();
  const interactions = new Map<string, string>(); // token → channel
  let nextId = 900000000000000000n;
  let limitNext = 0;
  const fake = await startFakeServer((req, res) => {
    const url = new URL(req.path, 'http://x');
    // discord.js encodes '@original' as %40original; Discord accepts both.
    const route = decodeURIComponent(url.pathname.replace(/^\/api\/v10/, ''));
    const body = req.body ? (JSON.parse(req.body) as Record<string, any>) : null;
    const call: DiscordCall = { method: req.method, route, body, auth: req.headers.authorization as string | undefined, at: Date.now() };
    calls.push(call);
    if (limitNext > 0) {
      limitNext--;
      call.status = 429;
      return sendJson(res, 429, { message: 'You are being rate limited.', retry_after: 0.3, global: false }, {
        'retry-after': '1', 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset-after': '0.3', 'x-ratelimit-bucket': 'fake', 'x-ratelimit-scope': 'user',
      });
    }
    const message = (channel: string, b: Record<string, any> | null) => {
      const id = String(nextId++);
      messages.set(id, { channel_id: channel, body: b ?? {} });
      return { id, channel_id: channel, ...(b ?? {}) };
    };
    let m: RegExpExecArray | null;
    if ((m = /^\/webhooks\/([^/]+)\/([^/]+)\/messages\/(@original|\d+)$/.exec(route)) && req.method === 'PATCH') {
      if (m[1] !== opts.applicationId || req.headers.authorization) return sendJson(res, 401, { message: '401: Unauthorized', code: 0 });
      const channel = interactions.get(m[2]!);
      if (!channel) return sendJson(res, 404, { message: 'Unknown Webhook', code: 10015 });
      if (m[3] === '@original') {
        const existing = [...messages].find(([, v]) => v.body.__original === m![2]);
        if (existing) {
          existing[1].body = { ...(body ?? {}), __original: m[2] };
          return sendJson(res, 200, { id: existing[0], channel_id: channel, ...body });
        }
        return sendJson(res, 200, message(channel, { ...(body ?? {}), __original: m[2] }));
      }
      const msg = messages.get(m[3]!);
      if (!msg) return sendJson(res, 404, { message: 'Unknown Message', code: 10008 });
      msg.body = { ...(body ?? {}), __original: msg.body.__original };
      return sendJson(res, 200, { id: m[3], channel_id: msg.channel_id, ...body });
    }
    if ((m = /^\/webhooks\/([^/]+)\/([^/]+)$/.exec(route)) && req.method === 'POST') {
      const channel = interactions.get(m[2]!);
      if (!channel) return sendJson(res, 404, { message: 'Unknown Webhook', code: 10015 });
      return sendJson(res, 200, message(channel, body));
    }
    // GET /gateway needs no token (readiness probes use it).
    if (route === '/gateway' && req.method === 'GET') return sendJson(res, 200, { url: 'wss://gateway.discord.gg' });
    if (req.headers.authorization !== `Bot ${opts.botToken}`) return sendJson(res, 401, { message: '401: Unauthorized', code: 0 });
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(route)) && req.method === 'POST') return sendJson(res, 200, message(m[1]!, body));
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route)) && req.method === 'PATCH') {
      const msg = messages.get(m[2]!);
      if (!msg) return sendJson(res, 404, { message: 'Unknown Message', code: 10008 });
      msg.body = body ?? {};
      return sendJson(res, 200, { id: m[2], channel_id: m[1], ...body });
    }
    if ((m = /^\/applications\/([^/]+)(?:\/guilds\/\d+)?\/commands$/.exec(route)) && req.method === 'PUT') {
      return sendJson(res, 200, (body as unknown as Array<Record<string, unknown>>).map((c, i) => ({ id: String(i + 1), application_id: m![1], ...c })));
    }
    return sendJson(res, 404, { message: '404: Not Found', code: 0 });
  });
  return {
    ...fake,
    apiUrl: `${fake.url}/api`,
    calls,
    messages,
    /** Discord creates the interaction (and its webhook) when a user runs a command or clicks. */
    openInteraction(token: string, channel: string) {
      interactions.set(token, channel);
    },
    rateLimitNext(n = 1) {
      limitNext += n;
    },
  };
}
