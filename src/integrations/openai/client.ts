import OpenAI, { AzureOpenAI } from 'openai';
import type { OpenAIConfig } from '../../core/config.js';
import { PermanentFailure } from '../../core/errors.js';

export type ChatRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
export type ChatReply = OpenAI.Chat.Completions.ChatCompletion;
export type ChatMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** Rate limits and outages after the SDK's own retries: the job queue may try again later. */
export class OpenAIUnavailable extends Error {
  override name = 'OpenAIUnavailable';
}

/** The server turned down a request feature (json_schema, tools), not the request: try the next way. */
export class FeatureRejected extends Error {
  override name = 'FeatureRejected';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const OPENAI_URL = 'https://api.openai.com/v1';

/** How the provider is named in messages: where it is, so a person knows which server did not answer. */
export function describe(cfg: OpenAIConfig): string {
  if (cfg.azure) return `Azure OpenAI (${new URL(cfg.azure.endpoint).host}, deployment ${cfg.azure.deployment})`;
  return cfg.baseUrl ? `the OpenAI-compatible server at ${cfg.baseUrl}` : 'OpenAI';
}

/**
 * The official SDK, configured only from our config: every value the SDK would otherwise read
 * from the environment (key, base URL, organisation, API version) is passed explicitly. Local
 * servers need no key, but the SDK insists on one; they ignore it.
 */
export function createClient(cfg: OpenAIConfig): OpenAI {
  const common = { timeout: cfg.timeoutMs, maxRetries: cfg.maxRetries, organization: null, project: null, logLevel: 'off' as const };
  if (cfg.azure) {
    return new AzureOpenAI({ ...common, endpoint: cfg.azure.endpoint, apiVersion: cfg.azure.apiVersion, deployment: cfg.azure.deployment, apiKey: cfg.apiKey ?? '' });
  }
  return new OpenAI({ ...common, baseURL: cfg.baseUrl ?? OPENAI_URL, apiKey: cfg.apiKey ?? 'no-key-needed' });
}

/**
 * One Chat Completions call within the configured budget. The SDK retries 408/409/429/5xx and
 * connection errors itself (honouring Retry-After); the abort signal bounds the whole call, its
 * retries and waits included, so a server that never answers fails the run in OPENAI_TIMEOUT_MS.
 */
export async function complete(client: OpenAI, cfg: OpenAIConfig, body: ChatRequest, opts: { featureProbe?: boolean; timeoutMs?: number } = {}): Promise<ChatReply> {
  const timeoutMs = opts.timeoutMs ?? cfg.timeoutMs;
  try {
    return await client.chat.completions.create(body, { signal: AbortSignal.timeout(timeoutMs), timeout: timeoutMs });
  } catch (err) {
    throw classify(err, cfg, timeoutMs, opts.featureProbe ?? false);
  }
}

function classify(err: unknown, cfg: OpenAIConfig, timeoutMs: number, featureProbe: boolean): Error {
  const named = describe(cfg);
  const who = named[0]!.toUpperCase() + named.slice(1);
  if (err instanceof OpenAI.APIUserAbortError || err instanceof OpenAI.APIConnectionTimeoutError) {
    return new PermanentFailure(`${who} did not answer within ${timeoutMs / 1000} s (OPENAI_TIMEOUT_MS). Check that it is running and the model is loaded, or raise OPENAI_TIMEOUT_MS for a slow local model.`);
  }
  if (err instanceof OpenAI.APIConnectionError) return new OpenAIUnavailable(`${who} could not be reached: ${err.message}`);
  if (!(err instanceof OpenAI.APIError) || err.status === undefined) return new OpenAIUnavailable(`${who} failed: ${(err as Error).message}`);
  const status = err.status;
  const detail = err.message.replace(/^\d{3}\s*/, '');
  if (status === 401 || status === 403) {
    return new PermanentFailure(`${who} rejected the API key (${status}). Check ${cfg.azure ? 'AZURE_OPENAI_API_KEY' : 'OPENAI_API_KEY'}.`);
  }
  if (status === 404) {
    const hint = cfg.azure ? 'Check AZURE_OPENAI_DEPLOYMENT and AZURE_OPENAI_API_VERSION' : cfg.baseUrl ? `Check OPENAI_MODEL and OPENAI_BASE_URL (with Ollama: ollama pull ${cfg.model})` : 'Check OPENAI_MODEL';
    return new PermanentFailure(`${who} does not know the model "${cfg.model}" (404). ${hint}.`);
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) return new OpenAIUnavailable(`${who} is unavailable (${status}, after ${cfg.maxRetries} retries): ${detail}`);
  // Older servers answer a request feature they do not know (json_schema, tools) with 400 or 422.
  if (featureProbe && (status === 400 || status === 422)) return new FeatureRejected(status, detail);
  return new PermanentFailure(`${who} refused the request (${status}): ${detail}`);
}

/** Tokens of one reply: cached prompt tokens apart, as the price of a cached token differs. */
export function usageOf(reply: ChatReply): { input: number; cached: number; output: number } {
  const u = reply.usage;
  const cached = u?.prompt_tokens_details?.cached_tokens ?? 0;
  return { input: Math.max(0, (u?.prompt_tokens ?? 0) - cached), cached, output: u?.completion_tokens ?? 0 };
}

export function textOf(reply: ChatReply): string {
  return (reply.choices[0]?.message.content ?? '').trim();
}
