import type { OpenAIConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { StoryProvider } from '../../core/ai/provider.js';
import type { DocsWriter } from '../../core/docs/writer.js';
import type { ChangeSummariser } from '../../core/deploys/changes.js';
import { createClient, describe } from './client.js';
import { createOpenAIStoryProvider } from './story-provider.js';
import { createOpenAIDocsWriter } from './docs-writer.js';
import { createOpenAIChangeSummariser } from './change-summariser.js';
import { priceOf } from './pricing.js';

/**
 * An OpenAI-compatible API (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio) behind the three AI
 * ports: stories, documentation updates, change summaries. One SDK client serves all three.
 */
export function createOpenAIIntegration(cfg: OpenAIConfig, logger: Logger): { provider: StoryProvider; docsWriter: DocsWriter; changeSummariser: ChangeSummariser; description: string } {
  const client = createClient(cfg);
  const price = priceOf(cfg);
  const cost = price ? (price.input === 0 && price.output === 0 ? 'no cost' : `$${price.input}/$${price.output} per million tokens in/out`) : 'price unknown: no cost shown';
  return {
    provider: createOpenAIStoryProvider(cfg, { logger, client }),
    docsWriter: createOpenAIDocsWriter(cfg, { client }),
    changeSummariser: createOpenAIChangeSummariser(cfg, { logger, client }),
    description: `${describe(cfg)}, model ${cfg.model} (${cost})`,
  };
}

export { createOpenAIStoryProvider, createOpenAIDocsWriter, createOpenAIChangeSummariser };
