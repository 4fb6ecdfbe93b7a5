import type { AppConfig } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { StoryProvider } from '../core/ai/provider.js';
import type { DocsWriter } from '../core/docs/writer.js';
import type { ChangeSummariser } from '../core/deploys/changes.js';
import { createOfflineProvider } from '../core/ai/offline.js';
import { createClaudeProvider } from '../core/ai/claude.js';
import { createOfflineDocsWriter } from '../core/docs/writer.js';
import { createClaudeDocsWriter } from '../core/docs/claude.js';
import { createOfflineChangeSummariser } from '../core/deploys/changes.js';
import { createClaudeChangeSummariser } from '../core/deploys/changes-claude.js';
import { createOpenAIIntegration } from './openai/index.js';

export interface AiAdapters {
  provider: StoryProvider;
  docsWriter: DocsWriter;
  changeSummariser: ChangeSummariser;
  /** One line for the start-up log: which provider and model write stories, docs and summaries. */
  startup: string;
}

/** The one AI provider chosen by configuration (AI_PROVIDER, or the key that is set) behind all three ports. */
export function createAiAdapters(config: AppConfig, logger: Logger): AiAdapters {
  if (config.aiProvider === 'claude' && config.anthropic) {
    return {
      provider: createClaudeProvider(config.anthropic),
      docsWriter: createClaudeDocsWriter(config.anthropic),
      changeSummariser: createClaudeChangeSummariser({ ...config.anthropic, logger }),
      startup: `AI provider: Claude, model ${config.anthropic.model}`,
    };
  }
  if (config.aiProvider === 'openai' && config.openai) {
    const openai = createOpenAIIntegration(config.openai, logger);
    return { ...openai, startup: `AI provider: OpenAI-compatible, ${openai.description}` };
  }
  return {
    provider: createOfflineProvider(),
    docsWriter: createOfflineDocsWriter(),
    changeSummariser: createOfflineChangeSummariser(),
    startup: 'AI provider: offline generator (AI_PROVIDER=offline, or none of ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENAI_BASE_URL, AZURE_OPENAI_ENDPOINT set); its output is labelled so',
  };
}
