import type { OpenAIConfig } from '../../core/config.js';

/**
 * List prices in US dollars per million tokens (input, cached input, output), by model family, as
 * OpenAI publishes them. A model not listed has no cost shown rather than a guessed one; a server
 * on this machine or the private network (Ollama, vLLM, LM Studio) costs nothing; and
 * OPENAI_PRICE_PER_MTOK overrides both (Azure's prices differ by region and contract).
 */
const PRICES: Array<[RegExp, { input: number; cached: number; output: number }]> = [
  [/^gpt-5-nano(\b|-)/, { input: 0.05, cached: 0.005, output: 0.4 }],
  [/^gpt-5-mini(\b|-)/, { input: 0.25, cached: 0.025, output: 2 }],
  [/^gpt-5(\.\d)?(-\d{4}|$)/, { input: 1.25, cached: 0.125, output: 10 }],
  [/^gpt-4\.1-nano(\b|-)/, { input: 0.1, cached: 0.025, output: 0.4 }],
  [/^gpt-4\.1-mini(\b|-)/, { input: 0.4, cached: 0.1, output: 1.6 }],
  [/^gpt-4\.1(-\d{4}|$)/, { input: 2, cached: 0.5, output: 8 }],
  [/^gpt-4o-mini(\b|-)/, { input: 0.15, cached: 0.075, output: 0.6 }],
  [/^gpt-4o(-\d{4}|$)/, { input: 2.5, cached: 1.25, output: 10 }],
  [/^o4-mini(\b|-)/, { input: 1.1, cached: 0.275, output: 4.4 }],
  [/^o3(-\d{4}|$)/, { input: 2, cached: 0.5, output: 8 }],
];

/** A server whose host is this machine or a private address: a local model. */
export function isLocalServer(baseUrl: string | undefined): boolean {
  if (!baseUrl) return false;
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' ||
    host.endsWith('.local') ||
    host.endsWith('.internal') ||
    host === '::1' ||
    /^127\./.test(host) ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
    /^f[cd][0-9a-f]{2}:/i.test(host) ||
    !host.includes('.')
  );
}

export function priceOf(cfg: OpenAIConfig): { input: number; cached: number; output: number } | null {
  if (cfg.price) return { input: cfg.price.input, cached: cfg.price.input, output: cfg.price.output };
  if (!cfg.azure && isLocalServer(cfg.baseUrl)) return { input: 0, cached: 0, output: 0 };
  return PRICES.find(([re]) => re.test(cfg.model))?.[1] ?? null;
}

export function costUsd(cfg: OpenAIConfig, t: { input: number; cached: number; output: number }): number | null {
  const price = priceOf(cfg);
  if (!price) return null;
  const dollars = (t.input * price.input + t.cached * price.cached + t.output * price.output) / 1e6;
  return Math.round(dollars * 1e6) / 1e6;
}
