import Anthropic from '@anthropic-ai/sdk';
import { PermanentFailure } from '../errors.js';
import type { GeneratedStory, StoryContext, StoryProvider } from './provider.js';
import { stripFences } from './gherkin.js';
import { costUsd } from './pricing.js';
import { DECLINE_TOOL, projectBlock, SYSTEM, TOOLS, userMessage, WRITE_TOOL } from './claude-prompt.js';
import { declineSchema, renderGherkin, storyProblems, storySchema } from '../stories/structured.js';
import type { RefusalReason } from '../stories/assess.js';

export interface ClaudeOptions {
  apiKey: string;
  baseUrl?: string | undefined;
  model: string;
  timeoutMs?: number;
}

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

const REASONS: Record<string, RefusalReason> = { gibberish: 'gibberish', no_action: 'no_action', bare_verb: 'bare_verb', vague: 'vague' };

interface Totals {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** Reads one reply: a story (rendered from the tool call), a decline, text, or what is wrong with the tool input. */
function readReply(reply: Anthropic.Message): { result?: Omit<GeneratedStory, keyof Totals | 'latencyMs' | 'costUsd'>; fix?: { toolUseId: string; error: string } } {
  const call = reply.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
  if (call?.name === DECLINE_TOOL) {
    const d = declineSchema.safeParse(call.input);
    if (!d.success) return { fix: { toolUseId: call.id, error: d.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') } };
    return { result: { gherkin: '', refusal: { reason: REASONS[d.data.reason] ?? 'no_action', missing: d.data.missing, example: d.data.example }, structured: true } };
  }
  if (call?.name === WRITE_TOOL) {
    const s = storySchema.safeParse(call.input);
    const problems = s.success ? storyProblems(s.data) : s.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    if (!s.success || problems.length) return { fix: { toolUseId: call.id, error: problems.join('; ') } };
    return { result: { gherkin: renderGherkin(s.data), openQuestions: s.data.open_questions, structured: true } };
  }
  const text = reply.content
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join('\n');
  if (!text.trim()) throw new PermanentFailure(`Claude returned neither a story nor text (stop reason: ${reply.stop_reason ?? 'unknown'}).`);
  return { result: { gherkin: stripFences(text) } };
}

export function createClaudeProvider(opts: ClaudeOptions): StoryProvider {
  // Retries belong to the job queue (with backoff and a run event per attempt), not hidden in the SDK.
  const client = new Anthropic({
    apiKey: opts.apiKey,
    ...(opts.baseUrl && { baseURL: opts.baseUrl }),
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 60_000,
  });

  async function call(messages: Anthropic.MessageParam[], context: StoryContext | undefined, totals: Totals): Promise<Anthropic.Message> {
    const project = projectBlock(context);
    // Tool choice stays "auto": the newest models reject a forced tool choice; the prompt asks for exactly one call.
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } },
      ...(project ? [{ type: 'text' as const, text: project, cache_control: { type: 'ephemeral' as const } }] : []),
    ];
    let reply: Anthropic.Message;
    try {
      reply = await client.messages.create({ model: opts.model, max_tokens: 4096, system, tools: TOOLS as Anthropic.Tool[], messages });
    } catch (err) {
      throw classify(err);
    }
    totals.inputTokens += reply.usage.input_tokens;
    totals.outputTokens += reply.usage.output_tokens;
    totals.cacheReadTokens += reply.usage.cache_read_input_tokens ?? 0;
    totals.cacheWriteTokens += reply.usage.cache_creation_input_tokens ?? 0;
    return reply;
  }

  /** One conversation: the request, and at most one correction of a tool input that did not fit the schema. */
  async function ask(messages: Anthropic.MessageParam[], context: StoryContext | undefined): Promise<GeneratedStory> {
    const started = performance.now();
    const totals: Totals = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    let reply = await call(messages, context, totals);
    let read = readReply(reply);
    if (read.fix) {
      const fix = read.fix;
      reply = await call(
        [
          ...messages,
          { role: 'assistant', content: reply.content },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: fix.toolUseId, is_error: true, content: `That does not fit the schema: ${fix.error}. Call the tool again with the corrected input.` }] },
        ],
        context,
        totals,
      );
      read = readReply(reply);
      if (read.fix) throw new PermanentFailure(`Claude's story did not fit the story schema, even after one correction: ${read.fix.error}`);
    }
    return { ...read.result!, ...totals, costUsd: costUsd(opts.model, totals), latencyMs: Math.round(performance.now() - started) };
  }

  return {
    name: 'claude',
    label: opts.model,
    model: opts.model,
    generate: (description, context) => ask([{ role: 'user', content: userMessage(description, context?.previous) }], context),
    repair: (description, previous, parseError, context) =>
      ask(
        [
          { role: 'user', content: userMessage(description, context?.previous) },
          { role: 'assistant', content: previous },
          { role: 'user', content: `The Gherkin parser rejected that: ${parseError}\nAnswer with the ${WRITE_TOOL} tool this time.` },
        ],
        context,
      ),
  };
}
