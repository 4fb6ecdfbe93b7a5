import type OpenAI from 'openai';
import type { OpenAIConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { PermanentFailure } from '../../core/errors.js';
import { DECLINE_TOOL, projectBlock, userMessage, WRITE_TOOL } from '../../core/ai/claude-prompt.js';
import type { GeneratedStory, StoryContext, StoryProvider } from '../../core/ai/provider.js';
import { complete, createClient, describe, FeatureRejected, textOf, usageOf, type ChatMessage, type ChatReply, type ChatRequest } from './client.js';
import { costUsd } from './pricing.js';
import { parseJsonText, readDecline, readStory, readWrapped, STORY_FORMAT, STORY_TOOLS, systemPrompt, type Answer, type OutputMode } from './story-schema.js';

/** Best first: constrained decoding; then tool calling; then plain JSON read by us, with one repair turn. */
const MODES: OutputMode[] = ['json_schema', 'tools', 'json'];

const EXAMPLE = 'As a shopper I want to save my cart so that I can buy later.';

interface Read {
  answer: Answer;
  /** The assistant turn as the server sent it, to give back in a repair turn. */
  assistant: ChatMessage;
  toolCallId?: string;
}

/** One reply, read the way its mode asked for it. A model's own refusal is an answer, not an error. */
function readReply(mode: OutputMode, reply: ChatReply): Read {
  const choice = reply.choices[0];
  const message = choice?.message;
  const assistant: ChatMessage = { role: 'assistant', content: message?.content ?? '', ...(message?.tool_calls?.length && { tool_calls: message.tool_calls }) };
  if (message?.refusal || choice?.finish_reason === 'content_filter') {
    const why = message?.refusal ?? 'the content filter stopped the answer';
    return { assistant, answer: { kind: 'refusal', refusal: { reason: 'no_action', missing: `The model would not write a story from this: ${why}`, example: EXAMPLE } } };
  }
  const call = message?.tool_calls?.find((c) => c.type === 'function');
  if (mode === 'tools' && call && call.type === 'function') {
    const args = parseJsonText(call.function.arguments || '{}');
    const answer: Answer =
      'error' in args
        ? { kind: 'problem', problem: `the tool arguments: ${args.error}` }
        : call.function.name === DECLINE_TOOL
          ? readDecline(args.value)
          : call.function.name === WRITE_TOOL
            ? readStory(args.value)
            : { kind: 'problem', problem: `there is no tool "${call.function.name}"` };
    return { assistant, toolCallId: call.id, answer };
  }
  const text = textOf(reply);
  if (!text) return { assistant, answer: { kind: 'problem', problem: `the answer is empty (finish reason: ${choice?.finish_reason ?? 'none'})` } };
  const parsed = parseJsonText(text);
  return { assistant, answer: 'error' in parsed ? { kind: 'problem', problem: parsed.error } : readWrapped(parsed.value) };
}

function repairTurn(read: Read & { answer: { kind: 'problem' } }): ChatMessage[] {
  const problem = read.answer.problem;
  if (read.toolCallId) {
    return [read.assistant, { role: 'tool', tool_call_id: read.toolCallId, content: `That does not fit the schema: ${problem}. Call the tool again with the corrected input.` }];
  }
  return [read.assistant, { role: 'user', content: `That answer could not be used: ${problem}. Answer again with only the corrected JSON object.` }];
}

interface Totals {
  input: number;
  cached: number;
  output: number;
}

export function createOpenAIStoryProvider(cfg: OpenAIConfig, opts: { logger?: Logger; client?: OpenAI } = {}): StoryProvider {
  const client = opts.client ?? createClient(cfg);
  // A server that turned json_schema (or tools) down once is not asked that way again.
  let firstMode = 0;

  function request(mode: OutputMode, messages: ChatMessage[], context: StoryContext | undefined): ChatRequest {
    const project = projectBlock(context);
    // Fixed instructions first, then the project's block: providers that cache prompt prefixes reuse both.
    const system: ChatMessage[] = [{ role: 'system', content: systemPrompt(mode) }, ...(project ? [{ role: 'system' as const, content: project }] : [])];
    const body: ChatRequest = { model: cfg.model, messages: [...system, ...messages] };
    if (mode === 'json_schema') body.response_format = { type: 'json_schema', json_schema: STORY_FORMAT };
    if (mode === 'tools') Object.assign(body, { tools: STORY_TOOLS, tool_choice: 'auto' });
    return body;
  }

  async function call(mode: OutputMode, messages: ChatMessage[], context: StoryContext | undefined, totals: Totals, featureProbe: boolean): Promise<ChatReply> {
    const reply = await complete(client, cfg, request(mode, messages, context), { featureProbe });
    const u = usageOf(reply);
    totals.input += u.input;
    totals.cached += u.cached;
    totals.output += u.output;
    return reply;
  }

  /** The first mode the server accepts, then at most one repair turn for an answer that does not fit. */
  async function ask(messages: ChatMessage[], context: StoryContext | undefined): Promise<GeneratedStory> {
    const started = performance.now();
    const totals: Totals = { input: 0, cached: 0, output: 0 };
    for (let m = firstMode; m < MODES.length; m++) {
      const mode = MODES[m]!;
      let reply: ChatReply;
      try {
        reply = await call(mode, messages, context, totals, mode !== 'json');
      } catch (err) {
        if (!(err instanceof FeatureRejected)) throw err;
        opts.logger?.warn({ mode, status: err.status, err: err.message }, `${describe(cfg)} rejected ${mode} output; trying ${MODES[m + 1]}`);
        continue;
      }
      firstMode = m;
      let read = readReply(mode, reply);
      if (read.answer.kind === 'problem') {
        reply = await call(mode, [...messages, ...repairTurn(read as Read & { answer: { kind: 'problem' } })], context, totals, false);
        read = readReply(mode, reply);
        if (read.answer.kind === 'problem') throw new PermanentFailure(`${cfg.model}'s story did not fit the story schema, even after one repair (${mode} output): ${read.answer.problem}`);
      }
      const usage = {
        inputTokens: totals.input,
        outputTokens: totals.output,
        cacheReadTokens: totals.cached,
        cacheWriteTokens: 0,
        costUsd: costUsd(cfg, totals),
        latencyMs: Math.round(performance.now() - started),
        structured: true,
        outputMode: mode,
      };
      const a = read.answer;
      return a.kind === 'refusal' ? { ...usage, gherkin: '', refusal: a.refusal } : { ...usage, gherkin: a.gherkin, openQuestions: a.openQuestions };
    }
    throw new PermanentFailure(`${describe(cfg)} accepted none of json_schema, tools or plain JSON output.`);
  }

  return {
    name: 'openai',
    label: cfg.model,
    model: cfg.model,
    generate: (description, context) => ask([{ role: 'user', content: userMessage(description) }], context),
    repair: (description, previous, parseError, context) =>
      ask(
        [
          { role: 'user', content: userMessage(description) },
          { role: 'assistant', content: previous },
          { role: 'user', content: `The Gherkin parser rejected that: ${parseError}\nAnswer again in the structure asked for.` },
        ],
        context,
      ),
  };
}
