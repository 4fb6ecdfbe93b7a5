import { startFakeServer, sendJson, type RecordedRequest } from './http.js';

export type OpenAIScript = Array<
  | { json: unknown; promptTokens?: number; cachedTokens?: number; completionTokens?: number }
  | { text: string; promptTokens?: number; completionTokens?: number }
  | { tool: string; input: unknown; promptTokens?: number; completionTokens?: number }
  | { refusal: string }
  | { status: number; message: string; headers?: Record<string, string> }
  /** Never answers: the connection stays open until the client gives up. */
  | { hang: true }
>;

export interface FakeOpenAIOptions {
  /** Unset: any key (or none), as local servers do. */
  apiKey?: string;
  script: OpenAIScript;
  /** Answer 400 to response_format json_schema, as older local servers do (not counted as a call). */
  rejectJsonSchema?: boolean;
  /** Answer 400 to `tools` too. */
  rejectTools?: boolean;
}

interface Body {
  model: string;
  messages: Array<{ role: string; content: unknown }>;
  response_format?: { type: string };
  tools?: unknown[];
}

/**
 * The Chat Completions API (POST /v1/chat/completions, and Azure's
 * /openai/deployments/{deployment}/chat/completions?api-version=…) answering from a script, one
 * entry per call; the last entry repeats. Replies are shaped as the API sends them: `choices[0].
 * message` with `content`, `tool_calls` (arguments as a JSON string) or `refusal`, a finish
 * reason, and `usage` with `prompt_tokens_details.cached_tokens`. Errors are `{ error: { message,
 * type, code } }`. Credentials: `Authorization: Bearer` (OpenAI) or `api-key` (Azure).
 */
export async function startFakeOpenAI(opts: FakeOpenAIOptions) {
  let call = 0;
  const hung: Array<() => void> = [];
  const fake = await startFakeServer((req, res) => {
    const url = new URL(req.path, 'http://x');
    const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(url.pathname);
    if (req.method !== 'POST' || !(url.pathname === '/v1/chat/completions' || azure)) {
      return sendJson(res, 404, { error: { message: `Unknown path ${url.pathname}`, type: 'invalid_request_error', code: 'unknown_url' } });
    }
    if (azure && !url.searchParams.get('api-version')) {
      return sendJson(res, 404, { error: { code: '404', message: 'Resource not found' } });
    }
    if (opts.apiKey && credentialOf(req) !== opts.apiKey) {
      return sendJson(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    const body = JSON.parse(req.body) as Body;
    if (opts.rejectJsonSchema && body.response_format?.type === 'json_schema') {
      return sendJson(res, 400, { error: { message: "Invalid value for 'response_format': json_schema is not supported by this server", type: 'invalid_request_error', param: 'response_format', code: null } });
    }
    if (opts.rejectTools && body.tools) {
      return sendJson(res, 400, { error: { message: 'tools are not supported by this model', type: 'invalid_request_error', param: 'tools', code: null } });
    }
    const step = opts.script[Math.min(call++, opts.script.length - 1)]!;
    if ('hang' in step) return void hung.push(() => res.destroy());
    if ('status' in step) return sendJson(res, step.status, { error: { message: step.message, type: 'server_error', code: null } }, step.headers);
    const model = azure ? azure[1]! : body.model;
    const usage = {
      prompt_tokens: ('promptTokens' in step && step.promptTokens) || 150,
      completion_tokens: ('completionTokens' in step && step.completionTokens) || 300,
      prompt_tokens_details: { cached_tokens: ('cachedTokens' in step && step.cachedTokens) || 0 },
    };
    const message =
      'refusal' in step
        ? { role: 'assistant', content: null, refusal: step.refusal }
        : 'tool' in step
          ? { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: `call_${call}`, type: 'function', function: { name: step.tool, arguments: JSON.stringify(step.input) } }] }
          : { role: 'assistant', content: 'json' in step ? JSON.stringify(step.json) : step.text, refusal: null };
    return sendJson(res, 200, {
      id: `chatcmpl-${call}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message, finish_reason: 'tool' in step ? 'tool_calls' : 'stop', logprobs: null }],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    });
  });
  return {
    ...fake,
    get calls() {
      return call;
    },
    /** The parsed bodies of the requests that reached the chat completions route. */
    bodies: () => fake.requests.map((r) => JSON.parse(r.body) as Record<string, any>),
    close: async () => {
      for (const h of hung) h();
      await fake.close();
    },
  };
}

export function credentialOf(req: RecordedRequest): string | undefined {
  return /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1] ?? (req.headers['api-key'] as string | undefined);
}
