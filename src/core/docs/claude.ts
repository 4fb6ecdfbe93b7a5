import Anthropic from '@anthropic-ai/sdk';
import { PermanentFailure } from '../errors.js';
import { TransientProviderError } from '../ai/claude.js';
import { docsPrompt, DOCS_INSTRUCTIONS, leftOutSection, type DocsWriter } from './writer.js';

/** Claude writes the changelog entry from the selected diff; the left-out list is ours, not its. */
export function createClaudeDocsWriter(opts: { apiKey: string; baseUrl?: string | undefined; model: string }): DocsWriter {
  const client = new Anthropic({ apiKey: opts.apiKey, ...(opts.baseUrl && { baseURL: opts.baseUrl }), maxRetries: 0, timeout: 120_000 });
  return {
    name: 'claude',
    label: `Claude (${opts.model})`,
    async write(input) {
      let reply: Anthropic.Message;
      try {
        reply = await client.messages.create({
          model: opts.model,
          max_tokens: 2048,
          system: DOCS_INSTRUCTIONS,
          messages: [{ role: 'user', content: docsPrompt(input) }],
        });
      } catch (err) {
        if (err instanceof Anthropic.APIError && err.status !== undefined && err.status < 500 && err.status !== 429 && err.status !== 408) {
          throw new PermanentFailure(`Claude refused the docs request (${err.status}). Check ANTHROPIC_API_KEY and ANTHROPIC_MODEL.`);
        }
        throw new TransientProviderError(`Claude is unavailable: ${(err as Error).message}`);
      }
      const text = reply.content.filter((b): b is Anthropic.TextBlock => b.type === 'text').map((b) => b.text).join('\n').trim();
      if (!text) throw new PermanentFailure('Claude returned no documentation text.');
      const entry = [text, ...leftOutSection(input.selection), '', `_Written by Claude (${opts.model}) for ${input.runRef}._`, ''].join('\n');
      const headline = input.commits[0]?.message.split('\n')[0] ?? `${input.selection.files.length} file(s) changed`;
      return { entry, title: `Docs: ${headline}`.slice(0, 120), generator: `Claude (${opts.model})` };
    },
  };
}
