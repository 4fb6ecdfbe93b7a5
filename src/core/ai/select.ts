import type { AppConfig } from '../config.js';
import type { StoryProvider } from './provider.js';
import { createClaudeProvider } from './claude.js';
import { createOfflineProvider } from './offline.js';

/**
 * Which story provider the configuration selects: the first entry whose settings are present,
 * else the offline generator. Another provider (an OpenAI-compatible server) is one more entry
 * here; the server and `npm run bench -- stories` both choose through this list.
 */
export const PROVIDERS: Array<{ name: string; from(config: AppConfig): StoryProvider | undefined }> = [
  { name: 'claude', from: (config) => (config.anthropic ? createClaudeProvider(config.anthropic) : undefined) },
];

export function providerFor(config: AppConfig): StoryProvider {
  for (const p of PROVIDERS) {
    const provider = p.from(config);
    if (provider) return provider;
  }
  return createOfflineProvider();
}
