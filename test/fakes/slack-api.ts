import { startFakeServer, sendJson } from './http.js';
import { SlackLimits, type SlackLimitOptions } from './slack-limits.js';

export interface SlackCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  /** The ts this fake gave a posted message. */
  ts?: string;
  /** Answered 429 with this Retry-After (s). */
  limited?: number;
  /** When it arrived (ms). */
  at?: number;
}

/**
 * The Slack Web API as the WebClient speaks it: POST {base}/api/<method>, bearer token,
 * form-encoded arguments with blocks as JSON strings, `{ ok: … }` replies.
 */
export async function startFakeSlack(opts: { token: string; limits?: SlackLimitOptions }) {
  const calls: SlackCall[] = [];
  // With limits: Slack's rate limits, answered with 429 and Retry-After.
  const limits = opts.limits ? new SlackLimits(opts.limits) : undefined;
  let tsCounter = 1712345678;
  const messages = new Map<string, Record<string, unknown>>();
  const fake = await startFakeServer((req, res) => {
    const method = req.path.replace(/^\/api\//, '').split('?')[0]!;
    const type = String(req.headers['content-type'] ?? '');
    const args: Record<string, unknown> = type.includes('json')
      ? (JSON.parse(req.body || '{}') as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(req.body));
    for (const k of ['blocks', 'attachments']) if (typeof args[k] === 'string') args[k] = JSON.parse(args[k] as string);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || (args.token as string | undefined);
    const call: SlackCall = { method, args, token, at: req.at };
    calls.push(call);
    // api.test needs no token: Slack's way to check that its API answers.
    if (method === 'api.test') return sendJson(res, 200, { ok: true, args: {} });
    if (token !== opts.token) return sendJson(res, 200, { ok: false, error: 'invalid_auth' });
    const retryAfter = limits?.check(method, String(args.channel ?? ''), req.at) ?? 0;
    if (retryAfter > 0) {
      call.limited = retryAfter;
      return sendJson(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfter) });
    }
    switch (method) {
      case 'auth.test':
        return sendJson(res, 200, { ok: true, url: 'https://acme.slack.com/', team: 'Acme', user: 'autodevhub', team_id: 'T0ACME', user_id: 'U0BOT', bot_id: 'B0BOT' });
      case 'chat.postMessage': {
        const ts = `${tsCounter++}.000100`;
        call.ts = ts;
        messages.set(`${args.channel}:${ts}`, args);
        return sendJson(res, 200, { ok: true, channel: args.channel, ts, message: { ...args, ts, type: 'message' } });
      }
      case 'chat.update': {
        const key = `${args.channel}:${args.ts}`;
        if (!messages.has(key)) return sendJson(res, 200, { ok: false, error: 'message_not_found' });
        messages.set(key, args);
        return sendJson(res, 200, { ok: true, channel: args.channel, ts: args.ts, text: args.text });
      }
      case 'chat.postEphemeral':
        return sendJson(res, 200, { ok: true, message_ts: `${tsCounter++}.000200` });
      default:
        return sendJson(res, 200, { ok: false, error: 'unknown_method' });
    }
  });
  return {
    ...fake,
    apiUrl: `${fake.url}/api/`,
    calls,
    messages,
    limits,
    callsOf: (method: string) => calls.filter((c) => c.method === method),
  };
}
