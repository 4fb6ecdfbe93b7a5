import { startFakeServer, sendJson } from './http.js';

export type AnthropicScript = Array<
  | { text: string; inputTokens?: number; outputTokens?: number }
  | { status: number; type: string; message: string; headers?: Record<string, string> }
>;

/**
 * The Anthropic Messages API (POST /v1/messages) answering from a script, one entry per call;
 * the last entry repeats. Checks the credential (x-api-key, or Authorization: Bearer as SDK 1.x
 * sends it) and the anthropic-version header, as the API does.
 */
export function credentialOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(String(headers.authorization ?? ''))?.[1];
  return bearer ?? (headers['x-api-key'] as string | undefined);
}

export async function startFakeAnthropic(opts: { apiKey: string; script: AnthropicScript }) {
  let call = 0;
  const fake = await startFakeServer((req, res) => {
    if (req.method !== 'POST' || !req.path.startsWith('/v1/messages')) {
      return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
    }
    if (credentialOf(req.headers) !== opts.apiKey) {
      return sendJson(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
    }
    if (!req.headers['anthropic-version']) {
      return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } });
    }
    const body = JSON.parse(req.body) as { model: string };
    const step = opts.script[Math.min(call++, opts.script.length - 1)]!;
    if ('status' in step) {
      return sendJson(res, step.status, { type: 'error', error: { type: step.type, message: step.message } }, step.headers);
    }
    return sendJson(res, 200, {
      id: `msg_${call}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content: [{ type: 'text', text: step.text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: step.inputTokens ?? 120, output_tokens: step.outputTokens ?? 340 },
    });
  });
  return { ...fake, get calls() { return call; } };
}
