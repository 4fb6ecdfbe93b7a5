export interface GeneratedStory {
  gherkin: string;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number;
}

/** Where stories come from: Claude, or the offline generator when no API key is set. */
export interface StoryProvider {
  /** 'claude' | 'offline' */
  name: string;
  /** How the provider is shown to people: the Claude model name, or "offline generator". */
  label: string;
  model: string;
  generate(description: string): Promise<GeneratedStory>;
  /** One attempt to fix output the Gherkin parser rejected, given the parser's error. */
  repair(description: string, previous: string, parseError: string): Promise<GeneratedStory>;
}
