import type OpenAI from 'openai';
import type { OpenAIConfig } from '../../core/config.js';
import { PermanentFailure } from '../../core/errors.js';
import { docsPrompt, DOCS_INSTRUCTIONS, leftOutSection, type DocsWriter } from '../../core/docs/writer.js';
import { complete, createClient, describe, textOf } from './client.js';
import { writtenBy } from '../../core/ai/provider.js';

/** The model writes the changelog entry from the selected diff, told exactly what Claude is told; the left-out list is ours. */
export function createOpenAIDocsWriter(cfg: OpenAIConfig, opts: { client?: OpenAI } = {}): DocsWriter {
  const client = opts.client ?? createClient(cfg);
  const label = writtenBy('openai', cfg.model);
  return {
    name: 'openai',
    label,
    async write(input) {
      const reply = await complete(client, cfg, {
        model: cfg.model,
        messages: [
          { role: 'system', content: DOCS_INSTRUCTIONS },
          { role: 'user', content: docsPrompt(input) },
        ],
      });
      const text = textOf(reply);
      if (reply.choices[0]?.message.refusal) throw new PermanentFailure(`${cfg.model} would not write the documentation: ${reply.choices[0].message.refusal}`);
      if (!text) throw new PermanentFailure(`${describe(cfg)} returned no documentation text.`);
      const entry = [text, ...leftOutSection(input.selection), '', `_Written by ${label} for ${input.runRef}._`, ''].join('\n');
      const headline = input.commits[0]?.message.split('\n')[0] ?? `${input.selection.files.length} file(s) changed`;
      return { entry, title: `Docs: ${headline}`.slice(0, 120), generator: label };
    },
  };
}
