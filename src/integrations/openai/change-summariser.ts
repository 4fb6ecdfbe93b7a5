import type OpenAI from 'openai';
import type { OpenAIConfig } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { ChangeSummary } from '../../core/runs/model.js';
import { offlineSummary, SUMMARY_INSTRUCTIONS, summaryPrompt, type ChangeSummariser } from '../../core/deploys/changes.js';
import { writtenBy } from '../../core/ai/provider.js';
import { complete, createClient, textOf } from './client.js';

/** An approval request must not wait long for prose: the summary gets at most this, whatever OPENAI_TIMEOUT_MS says. */
const SUMMARY_BUDGET_MS = 30_000;

/**
 * The model writes the prose of the change summary from the same facts Claude gets; the facts stay
 * ours. When the model cannot answer, the offline summary is used and says so.
 */
export function createOpenAIChangeSummariser(cfg: OpenAIConfig, opts: { logger: Logger; client?: OpenAI }): ChangeSummariser {
  const client = opts.client ?? createClient(cfg);
  const label = writtenBy('openai', cfg.model);
  return {
    label,
    async summarise(facts: ChangeSummary): Promise<ChangeSummary> {
      if (facts.direction === 'first' || facts.direction === 'same') return { ...facts, summary: offlineSummary(facts), generator: 'offline summariser' };
      try {
        const reply = await complete(
          client,
          cfg,
          { model: cfg.model, messages: [{ role: 'system', content: SUMMARY_INSTRUCTIONS }, { role: 'user', content: summaryPrompt(facts) }] },
          { timeoutMs: Math.min(cfg.timeoutMs, SUMMARY_BUDGET_MS) },
        );
        const text = textOf(reply).replace(/\s+/g, ' ').trim();
        if (!text || reply.choices[0]?.message.refusal) throw new Error(reply.choices[0]?.message.refusal ?? 'empty answer');
        return { ...facts, summary: text.slice(0, 1200), generator: label };
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message }, `${label} could not summarise the changes; using the offline summariser`);
        return { ...facts, summary: offlineSummary(facts), generator: `offline summariser (${label} unavailable)` };
      }
    },
  };
}
