import type { Refusal } from '../stories/assess.js';

export interface ProviderUsage {
  inputTokens: number | null;
  outputTokens: number | null;
  /** Prompt-cache tokens (Claude): read from the cache, and written to it. */
  cacheReadTokens?: number | null;
  cacheWriteTokens?: number | null;
  /** US dollars at list price, when the model's price is known. */
  costUsd?: number | null;
  latencyMs: number;
}

export interface GeneratedStory extends ProviderUsage {
  gherkin: string;
  /** Set instead of a story when the description is not one a story can be written from. */
  refusal?: Refusal;
  /** What the description leaves undecided, listed under the story. */
  openQuestions?: string[];
  /** The output came as structure (Claude's tool call) and was rendered by us. */
  structured?: boolean;
  /** How the structure was asked for, where a provider has several ways (json_schema, tools, json). */
  outputMode?: string;
}

/** Project knowledge given to the provider: terms and the project's accepted stories. */
export interface StoryContext {
  projectKey?: string | null;
  glossary?: Record<string, string>;
  examples?: Array<{ description: string; gherkin: string }>;
  /** Regenerate: the version being replaced, so a provider can write a different one (or say why it cannot). */
  previous?: string;
}

/** Where stories come from: Claude, an OpenAI-compatible API, or the offline generator. */
export interface StoryProvider {
  /** 'claude' | 'openai' | 'offline' */
  name: string;
  /** How the provider is shown to people: the Claude model name, or "offline generator". */
  label: string;
  model: string;
  generate(description: string, context?: StoryContext): Promise<GeneratedStory>;
  /** One attempt to fix output the Gherkin parser rejected, given the parser's error. */
  repair(description: string, previous: string, parseError: string, context?: StoryContext): Promise<GeneratedStory>;
}

const PROVIDER_NAMES: Record<string, string> = { claude: 'Claude', openai: 'OpenAI-compatible' };

/** Who wrote a story, as people read it: "offline generator", "Claude (model)", "OpenAI-compatible (model)". */
export function writtenBy(provider: string, model: string): string {
  return provider === 'offline' ? 'offline generator' : `${PROVIDER_NAMES[provider] ?? provider} (${model})`;
}
