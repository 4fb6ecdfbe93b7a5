import type { CoreContext } from '../context.js';
import type { GeneratedStory, ProviderUsage, StoryContext, StoryProvider } from '../ai/provider.js';
import { confidenceScore } from '../ai/confidence.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { step } from '../runs/advance.js';
import type { StoryRun } from '../runs/model.js';
import { acceptedStoriesOf } from './store.js';
import type { Assessment, Refusal } from './assess.js';

/** The parts of a story run that are about stories rather than runs: context, usage, refusals. */

export type Usage = Required<ProviderUsage>;

export function usageOf(g: GeneratedStory | null): Usage {
  return {
    inputTokens: g?.inputTokens ?? null,
    outputTokens: g?.outputTokens ?? null,
    cacheReadTokens: g?.cacheReadTokens ?? null,
    cacheWriteTokens: g?.cacheWriteTokens ?? null,
    costUsd: g?.costUsd ?? null,
    latencyMs: g?.latencyMs ?? 0,
  };
}

function sum(a: number | null, b: number | null): number | null {
  return a == null && b == null ? null : (a ?? 0) + (b ?? 0);
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: sum(a.inputTokens, b.inputTokens),
    outputTokens: sum(a.outputTokens, b.outputTokens),
    cacheReadTokens: sum(a.cacheReadTokens, b.cacheReadTokens),
    cacheWriteTokens: sum(a.cacheWriteTokens, b.cacheWriteTokens),
    costUsd: sum(a.costUsd, b.costUsd),
    latencyMs: a.latencyMs + b.latencyMs,
  };
}

/** What the provider is told about the project: its glossary, and stories the team accepted. */
export async function storyContextFor(ctx: CoreContext, projectKey: string | null): Promise<StoryContext> {
  if (!projectKey) return {};
  const project = ctx.config.projects.find((p) => p.key === projectKey);
  return {
    projectKey,
    glossary: project?.glossary ?? {},
    examples: await acceptedStoriesOf(ctx.em, projectKey),
  };
}

/**
 * A description no story can be written from ends the run as `needs_input`: not a failure, but
 * a request to the person, with what is missing and an example, shown wherever the run is.
 */
export async function finishNeedsInput(ctx: CoreContext, run: StoryRun, refusal: Refusal, info: { provider: StoryProvider; usage: Usage; assessment: Assessment }): Promise<undefined> {
  const confidence = confidenceScore({ signals: info.assessment.signals, summary: null, repaired: false, provider: info.provider.name });
  const needsInput = { reason: refusal.reason, missing: refusal.missing, example: refusal.example };
  await transaction(ctx, async (tx) => {
    await step(tx, run.id, {
      status: 'needs_input',
      stage: 'done',
      progress: 100,
      message: `No story: ${refusal.missing}`,
      data: { needsInput, confidence, provider: info.provider.name, model: info.provider.model, usage: info.usage },
      result: { needsInput },
    });
    await audit(tx, { actor: run.requestedBy, action: 'story.needs_input', target: run.ref, source: run.channel ?? run.sourcePlatform, data: { reason: refusal.reason, provider: info.provider.name } });
  });
  return undefined;
}
