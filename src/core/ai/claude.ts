import Anthropic from '@anthropic-ai/sdk';
import { PermanentFailure } from '../errors.js';
import type { GeneratedStory, StoryProvider } from './provider.js';
import { stripFences } from './gherkin.js';

export interface ClaudeOptions {
  apiKey: string;
  baseUrl?: string | undefined;
  model: string;
  timeoutMs?: number;
}

const SYSTEM = [
  'You write user stories as Gherkin feature files for an engineering team.',
  'Reply with one Gherkin feature file and nothing else: no prose before or after, no Markdown fences.',
  'Start with "Feature:", then the narrative lines "As a …", "I want …", "So that …".',
  'Write three scenarios: the happy path, a validation or error path, and an edge case.',
  'Use Given/When/Then/And steps in the first person, concrete and testable.',
].join('\n');

/** An error whose retry can succeed (rate limit, overload, network) versus one that cannot. */
export class TransientProviderError extends Error {
  override name = 'TransientProviderError';
}

function classify(err: unknown): Error {
  if (err instanceof Anthropic.APIError) {
    const status = err.status;
    if (status === undefined || status === 408 || status === 409 || status === 429 || status >= 500) {
      return new TransientProviderError(`Claude is unavailable (${status ?? 'no response'}): ${err.message}`);
    }
    if (status === 401 || status === 403) {
      return new PermanentFailure(`Claude rejected the API key (${status}). Check ANTHROPIC_API_KEY.`);
    }
    if (status === 404) return new PermanentFailure(`Claude does not know the model (${status}). Check ANTHROPIC_MODEL.`);
    return new PermanentFailure(`Claude refused the request (${status}): ${err.message}`);
  }
  return new TransientProviderError(`Claude could not be reached: ${(err as Error).message}`);
}

export function createClaudeProvider(opts: ClaudeOptions): StoryProvider {
  // Retries belong to the job queue (with backoff and a run event per attempt), not hidden in the SDK.
  const client = new Anthropic({
    apiKey: opts.apiKey,
    ...(opts.baseUrl && { baseURL: opts.baseUrl }),
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 60_000,
  });

  async function ask(messages: Anthropic.MessageParam[]): Promise<GeneratedStory> {
    const started = performance.now();
    let reply: Anthropic.Message;
    try {
      reply = await client.messages.create({ model: opts.model, max_tokens: 2048, system: SYSTEM, messages });
    } catch (err) {
      throw classify(err);
    }
    const text = reply.content
      .filter((b): b is Anthropic.TextBlock => b.type === 'text')
      .map((b) => b.text)
      .join('\n');
    if (!text.trim()) throw new PermanentFailure(`Claude returned no text (stop reason: ${reply.stop_reason ?? 'unknown'}).`);
    return {
      gherkin: stripFences(text),
      inputTokens: reply.usage.input_tokens,
      outputTokens: reply.usage.output_tokens,
      latencyMs: Math.round(performance.now() - started),
    };
  }

  return {
    name: 'claude',
    label: opts.model,
    model: opts.model,
    generate: (description) => ask([{ role: 'user', content: `Feature idea:\n${description}` }]),
    repair: (description, previous, parseError) =>
      ask([
        { role: 'user', content: `Feature idea:\n${description}` },
        { role: 'assistant', content: previous },
        {
          role: 'user',
          content: `The Gherkin parser rejected that: ${parseError}\nReply with the corrected feature file only.`,
        },
      ]),
  };
}
