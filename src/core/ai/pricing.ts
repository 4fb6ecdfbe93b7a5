/**
 * List prices in US dollars per million tokens (input, output, 5-minute cache write, cache read),
 * by model family, as Anthropic publishes them. A model not listed has no cost shown rather than
 * a guessed one. Batch and regional surcharges do not apply to this service's calls.
 */
const PRICES: Array<[RegExp, { input: number; output: number; cacheWrite: number; cacheRead: number }]> = [
  [/^claude-sonnet-5(-5)?(\b|-)/, { input: 2, output: 10, cacheWrite: 2.5, cacheRead: 0.2 }],
  [/^claude-sonnet-4(-\d)?(\b|-)/, { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 }],
  [/^claude-haiku-4-5(\b|-)/, { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 }],
  [/^claude-opus-4-[5-8](\b|-)/, { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 }],
];

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheWriteTokens: number;
  cacheReadTokens: number;
}

export function costUsd(model: string, t: TokenCounts): number | null {
  const price = PRICES.find(([re]) => re.test(model))?.[1];
  if (!price) return null;
  const dollars = (t.inputTokens * price.input + t.outputTokens * price.output + t.cacheWriteTokens * price.cacheWrite + t.cacheReadTokens * price.cacheRead) / 1e6;
  return Math.round(dollars * 1e6) / 1e6;
}
