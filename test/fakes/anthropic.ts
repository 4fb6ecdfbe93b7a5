import { createHash } from 'node:crypto';
import { startFakeServer, sendJson } from './http.js';

export type AnthropicScript = Array<
  | { text: string; inputTokens?: number; outputTokens?: number }
  | { tool: string; input: unknown; inputTokens?: number; outputTokens?: number }
  | { status: number; type: string; message: string; headers?: Record<string, string> }
>;

/**
 * The Anthropic Messages API (POST /v1/messages) answering from a script, one entry per call;
 * the last entry repeats. Checks the credential (x-api-key, or Authorization: Bearer as SDK 1.x
 * sends it) and the anthropic-version header, as the API does. Tool calls come back as the API
 * sends them: a `tool_use` content block with an id, `stop_reason: "tool_use"`. Prompt caching
 * is modelled on the request: the prefix up to the last `cache_control` breakpoint (tools, then
 * system) is written to the cache the first time it is seen and read from it after, and the
 * usage reports `cache_creation_input_tokens` / `cache_read_input_tokens` (about 4 characters a
 * token). As the newest models do, a forced `tool_choice` is answered 400.
 */
export function credentialOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1];
  return bearer ?? (headers['x-api-key'] as string | undefined);
}

interface Body {
  model: string;
  tools?: Array<{ name: string; cache_control?: unknown }>;
  system?: string | Array<{ type: string; text: string; cache_control?: unknown }>;
  tool_choice?: { type: string };
  messages: unknown[];
}

/** The cached prefix of a request: tools and system blocks up to the last one marked for caching. */
function cachedPrefix(body: Body): string | null {
  const parts: Array<{ text: string; mark: boolean }> = [
    ...(body.tools ?? []).map((t) => ({ text: JSON.stringify(t), mark: Boolean(t.cache_control) })),
    ...(Array.isArray(body.system) ? body.system.map((b) => ({ text: b.text, mark: Boolean(b.cache_control) })) : []),
  ];
  const last = parts.map((p) => p.mark).lastIndexOf(true);
  return last < 0 ? null : parts.slice(0, last + 1).map((p) => p.text).join('\n');
}

export async function startFakeAnthropic(opts: { apiKey: string; script: AnthropicScript; /** Time the model takes per answer. */ delayMs?: number }) {
  let call = 0;
  const cache = new Set<string>();
  const fake = await startFakeServer(async (req, res) => {
    if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
    if (req.method !== 'POST' || !req.path.startsWith('/v1/messages')) {
      return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
    }
    if (credentialOf(req.headers) !== opts.apiKey) {
      return sendJson(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    }
    if (!req.headers['anthropic-version']) {
      return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } });
    }
    const body = JSON.parse(req.body) as Body;
    if (body.tool_choice && body.tool_choice.type !== 'auto' && body.tool_choice.type !== 'none') {
      return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'tool_choice forcing tool use is not supported for this model' } });
    }
    const step = opts.script[Math.min(call++, opts.script.length - 1)]!;
    if ('status' in step) {
      return sendJson(res, step.status, { type: 'error', error: { type: step.type, message: step.message } }, step.headers);
    }
    const prefix = cachedPrefix(body);
    const prefixTokens = prefix ? Math.ceil(prefix.length / 4) : 0;
    const key = prefix && createHash('sha256').update(prefix).digest('hex');
    const hit = key ? cache.has(key) : false;
    if (key) cache.add(key);
    const content =
      'tool' in step
        ? [{ type: 'tool_use', id: `toolu_${call}`, name: step.tool, input: step.input }]
        : [{ type: 'text', text: step.text }];
    return sendJson(res, 200, {
      id: `msg_${call}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason: 'tool' in step ? 'tool_use' : 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: step.inputTokens ?? 120,
        output_tokens: step.outputTokens ?? 340,
        cache_creation_input_tokens: key && !hit ? prefixTokens : 0,
        cache_read_input_tokens: hit ? prefixTokens : 0,
      },
    });
  });
  return { ...fake, get calls() { return call; } };
}
