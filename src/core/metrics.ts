import type { StoryProvider } from './ai/provider.js';
import type { StoryCache } from './stories/cache.js';
import type { DocsWriter } from './docs/writer.js';
import type { ChatAdapter } from './chat/adapter.js';

/**
 * What core measures, named by what happened, not by how it is exported. Core depends on this
 * interface only; src/metrics.ts implements it with prom-client and hands it in through the
 * context. So core carries no metrics library, a process (or test) without a registry passes
 * nothing, and each running instance has a registry of its own.
 */
export interface CoreMetrics {
  /** A run finished: how long from intake to its final event, and how it ended. */
  runFinished(kind: string, status: string, seconds: number): void;
  /** A run spent this long in one stage (from the stage's first event to the next stage's). */
  stageFinished(kind: string, stage: string, seconds: number): void;
  aiCall(call: AiCall): void;
  storyCache(result: 'hit' | 'miss'): void;
  githubCall(call: { method: string; route: string; status: number; seconds: number }): void;
  githubRateLimit(resource: string, remaining: number, limit: number): void;
  chatCall(platform: string, operation: string, outcome: ChatOutcome): void;
  /** The platform's API answered 429 (the SDK may have waited and retried). */
  chatRateLimited(platform: string): void;
}

export type ChatOutcome = 'ok' | 'error' | 'rate_limited';

export interface AiCall {
  provider: string;
  operation: string;
  outcome: 'ok' | 'error';
  seconds: number;
  tokens?: { input?: number | null | undefined; output?: number | null | undefined; cacheRead?: number | null | undefined; cacheWrite?: number | null | undefined };
}

/** Story generation with its latency, tokens and errors measured. */
export function measuredProvider(provider: StoryProvider, metrics: CoreMetrics): StoryProvider {
  const measure = <A extends unknown[]>(operation: 'generate' | 'repair', fn: (...a: A) => ReturnType<StoryProvider['generate']>) =>
    async (...args: A) => {
      const started = performance.now();
      try {
        const story = await fn(...args);
        const tokens = { input: story.inputTokens, output: story.outputTokens, cacheRead: story.cacheReadTokens, cacheWrite: story.cacheWriteTokens };
        metrics.aiCall({ provider: provider.name, operation, outcome: 'ok', seconds: (performance.now() - started) / 1000, tokens });
        return story;
      } catch (err) {
        metrics.aiCall({ provider: provider.name, operation, outcome: 'error', seconds: (performance.now() - started) / 1000 });
        throw err;
      }
    };
  return {
    name: provider.name,
    label: provider.label,
    model: provider.model,
    generate: measure('generate', provider.generate.bind(provider)),
    repair: measure('repair', provider.repair.bind(provider)),
  };
}

export function measuredDocsWriter(writer: DocsWriter, metrics: CoreMetrics): DocsWriter {
  return {
    name: writer.name,
    label: writer.label,
    async write(input) {
      const started = performance.now();
      try {
        const out = await writer.write(input);
        metrics.aiCall({ provider: writer.name, operation: 'docs', outcome: 'ok', seconds: (performance.now() - started) / 1000 });
        return out;
      } catch (err) {
        metrics.aiCall({ provider: writer.name, operation: 'docs', outcome: 'error', seconds: (performance.now() - started) / 1000 });
        throw err;
      }
    },
  };
}

export function measuredStoryCache(cache: StoryCache, metrics: CoreMetrics): StoryCache {
  return {
    async get(projectKey, description) {
      const found = await cache.get(projectKey, description);
      metrics.storyCache(found ? 'hit' : 'miss');
      return found;
    },
    set: (projectKey, description, story, ttl) => cache.set(projectKey, description, story, ttl),
  };
}

/** A 429 from any of the SDKs: they say it differently. */
export function isRateLimited(err: unknown): boolean {
  const e = err as { status?: unknown; statusCode?: unknown; code?: unknown; data?: { error?: unknown } } | undefined;
  return e?.status === 429 || e?.statusCode === 429 || e?.code === 429 || e?.code === 'slack_webapi_rate_limited_error' || e?.data?.error === 'ratelimited';
}

/** Every call a chat adapter makes, counted by platform, operation and outcome. */
export function measuredChatAdapter(adapter: ChatAdapter, metrics: CoreMetrics): ChatAdapter {
  const wrap = <F extends (...a: never[]) => Promise<string>>(operation: string, fn: F | undefined): F | undefined => {
    if (!fn) return undefined;
    return (async (...args: Parameters<F>) => {
      try {
        const ref = await fn.apply(adapter, args);
        metrics.chatCall(adapter.platform, operation, 'ok');
        return ref;
      } catch (err) {
        metrics.chatCall(adapter.platform, operation, isRateLimited(err) ? 'rate_limited' : 'error');
        throw err;
      }
    }) as F;
  };
  const measured: ChatAdapter = {
    platform: adapter.platform,
    upsertRunMessage: wrap('upsert_run_message', adapter.upsertRunMessage)!,
    postStory: wrap('post_story', adapter.postStory)!,
  };
  const optional = { upsertApprovalMessage: wrap('upsert_approval', adapter.upsertApprovalMessage), postOutcome: wrap('post_outcome', adapter.postOutcome), postNotice: wrap('post_notice', adapter.postNotice) };
  for (const [k, v] of Object.entries(optional)) if (v) Object.assign(measured, { [k]: v });
  return measured;
}
