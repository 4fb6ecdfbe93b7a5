import Anthropic from '@anthropic-ai/sdk';
import type { Logger } from 'pino';
import type { ChangeSummary } from '../runs/model.js';
import { offlineSummary, SUMMARY_INSTRUCTIONS, summaryPrompt, type ChangeSummariser } from './changes.js';

/**
 * Claude writes the prose of the change summary; the facts (commits, areas, risks) stay ours. When
 * Claude cannot answer, the approval request must not wait: the offline summary is used and says so.
 */
export function createClaudeChangeSummariser(opts: { apiKey: string; baseUrl?: string | undefined; model: string; logger: Logger }): ChangeSummariser {
  const client = new Anthropic({ apiKey: opts.apiKey, ...(opts.baseUrl && { baseURL: opts.baseUrl }), maxRetries: 1, timeout: 30_000 });
  const label = `Claude (${opts.model})`;
  return {
    label,
    async summarise(facts: ChangeSummary): Promise<ChangeSummary> {
      if (facts.direction === 'first' || facts.direction === 'same') return { ...facts, summary: offlineSummary(facts), generator: 'offline summariser' };
      try {
        const reply = await client.messages.create({ model: opts.model, max_tokens: 400, system: SUMMARY_INSTRUCTIONS, messages: [{ role: 'user', content: summaryPrompt(facts) }] });
        const text = reply.content
          .filter((b): b is Anthropic.TextBlock => b.type === 'text')
          .map((b) => b.text)
          .join(' ')
          .replace(/\s+/g, ' ')
          .trim();
        if (!text) throw new Error('empty answer');
        return { ...facts, summary: text.slice(0, 1200), generator: label };
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message }, 'Claude could not summarise the changes; using the offline summariser');
        return { ...facts, summary: offlineSummary(facts), generator: `offline summariser (Claude unavailable)` };
      }
    },
  };
}
