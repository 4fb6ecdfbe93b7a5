import type { Actor, CoreContext } from '../context.js';
import { checkGherkin } from '../ai/gherkin.js';
import { readNarrative } from '../ai/narrative.js';
import { confidenceScore } from '../ai/confidence.js';
import { cacheKey } from './story-cache.js';
import { ConflictError, NotFoundError, PermanentFailure } from '../errors.js';
import { getRun, recordEvent, type CreatedRun, type RunSummary } from './runs.js';
import { audit } from './audit.js';

export interface StoryRecord {
  id: number;
  runId: number;
  featureDescription: string;
  gherkin: string;
  confidenceScore: number;
  status: 'draft' | 'accepted' | 'superseded';
  provider: string;
  model: string;
  inputTokens: number | null;
  outputTokens: number | null;
  latencyMs: number;
  cached: boolean;
  version: number;
  parentId: number | null;
  acceptedBy: string | null;
  acceptedAt: string | null;
}

type Row = Record<string, unknown>;

function toStory(r: Row): StoryRecord {
  return {
    id: Number(r.id),
    runId: Number(r.run_id),
    featureDescription: String(r.feature_description),
    gherkin: String(r.gherkin),
    confidenceScore: Number(r.confidence_score),
    status: r.status as StoryRecord['status'],
    provider: String(r.provider),
    model: String(r.model),
    inputTokens: r.input_tokens == null ? null : Number(r.input_tokens),
    outputTokens: r.output_tokens == null ? null : Number(r.output_tokens),
    latencyMs: Number(r.latency_ms),
    cached: Boolean(r.cached),
    version: Number(r.version),
    parentId: r.parent_id == null ? null : Number(r.parent_id),
    acceptedBy: (r.accepted_by as string | null) ?? null,
    acceptedAt: r.accepted_at ? new Date(String(r.accepted_at)).toISOString() : null,
  };
}

export interface RequestStoryInput {
  description: string;
  deliveryId: string;
  projectKey?: string | null;
  /** Regenerate: the story this one replaces, and the thread to answer in. */
  parentStoryId?: number;
  threadTs?: string;
  chatRefs?: Record<string, string>;
}

/** Ingress verb: the request becomes a queued run, stored and enqueued before this resolves. */
export async function requestStory(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  input: RequestStoryInput,
): Promise<CreatedRun> {
  return ctx.intake.submit({
    kind: 'story',
    requestedBy: actor.id,
    sourcePlatform: actor.platform,
    channel: actor.channel ?? null,
    projectKey: input.projectKey ?? null,
    input: {
      description: input.description,
      ...(input.parentStoryId && { parentStoryId: input.parentStoryId }),
      ...(input.threadTs && { threadTs: input.threadTs }),
    },
    delivery: { platform: actor.platform, id: input.deliveryId },
    message: input.parentStoryId ? 'Queued: a new version of the story' : 'Queued: writing a user story',
    ...(input.chatRefs && { chatRefs: input.chatRefs }),
  });
}

export async function findStoryByRun(ctx: Pick<CoreContext, 'em'>, runId: number): Promise<StoryRecord | undefined> {
  const rows: Row[] = await ctx.em.getConnection().execute(`select * from user_stories where run_id = ?`, [runId]);
  return rows[0] ? toStory(rows[0]) : undefined;
}

export async function getStory(ctx: Pick<CoreContext, 'em'>, id: number): Promise<StoryRecord> {
  const rows: Row[] = await ctx.em.getConnection().execute(`select * from user_stories where id = ?`, [id]);
  if (!rows[0]) throw new NotFoundError(`There is no story ${id}.`);
  return toStory(rows[0]);
}

/**
 * Worker verb: generate (or reuse from cache), validate with the Gherkin parser, repair once,
 * score, store. Safe to run again for the same run: a stored story is reused, not duplicated.
 */
export async function generateStory({ ctx, runId }: { ctx: CoreContext; runId: number }): Promise<StoryRecord | undefined> {
  const run = await getRun(ctx.em, runId);
  if (['succeeded', 'failed', 'cancelled'].includes(run.status)) return findStoryByRun(ctx, runId);
  const step = (patch: Parameters<typeof recordEvent>[3]) => recordEvent(ctx.em, ctx.publisher, runId, patch);
  const chat = async (e: { seq: number } | undefined) => {
    if (e) await ctx.scheduler.enqueueChatRender(runId, e.seq);
    return e;
  };
  const cancelled = () => undefined;

  const existing = await findStoryByRun(ctx, runId);
  if (existing) return finish(ctx, run, existing, step, chat);

  const description = String(run.input.description ?? '');
  const regenerate = typeof run.input.parentStoryId === 'number';
  if (!(await chat(await step({ status: 'running', stage: 'generate', progress: 10, message: `Writing the story with the ${ctx.provider.label}` })))) return cancelled();

  const cached = regenerate ? undefined : await ctx.cache.get(description);
  let gherkin: string;
  let repaired = false;
  let usage = { inputTokens: null as number | null, outputTokens: null as number | null, latencyMs: 0 };
  let provider = ctx.provider.name;
  let model = ctx.provider.model;
  if (cached) {
    gherkin = cached.gherkin;
    provider = cached.provider;
    model = cached.model;
  } else {
    const generated = await ctx.provider.generate(description);
    gherkin = generated.gherkin;
    usage = generated;
  }

  if (!(await chat(await step({ stage: 'validate', progress: 60, message: 'Checking the Gherkin with the Cucumber parser' })))) return cancelled();
  let check = checkGherkin(gherkin);
  if (!check.ok && !cached) {
    const firstError = check.error;
    await step({ stage: 'repair', progress: 70, message: `The story did not parse (${firstError}); asking for one repair` });
    const fixed = await ctx.provider.repair(description, gherkin, firstError);
    gherkin = fixed.gherkin;
    usage = {
      inputTokens: sum(usage.inputTokens, fixed.inputTokens),
      outputTokens: sum(usage.outputTokens, fixed.outputTokens),
      latencyMs: usage.latencyMs + fixed.latencyMs,
    };
    repaired = true;
    check = checkGherkin(gherkin);
    if (!check.ok) {
      throw new PermanentFailure(
        `The generated story is not valid Gherkin, even after one repair: ${check.error}. Try rewording the idea.`,
      );
    }
  }
  if (!check.ok) throw new PermanentFailure(`A cached story failed to parse: ${check.error}`);

  const narrative = readNarrative(description);
  const confidence = confidenceScore({
    summary: check.summary,
    narrative,
    descriptionWords: description.split(/\s+/).filter(Boolean).length,
    repaired,
    provider,
  });

  if (!(await chat(await step({ stage: 'store', progress: 85, message: 'Storing the story' })))) return cancelled();
  const parentId = regenerate ? Number(run.input.parentStoryId) : null;
  const rows: Row[] = await ctx.em.getConnection().execute(
    `insert into user_stories (run_id, feature_description, normalized_key, gherkin, confidence_score, status, provider,
       model, input_tokens, output_tokens, latency_ms, cached, version, parent_id, metadata)
     values (?, ?, ?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?,
       coalesce((select version + 1 from user_stories where id = ?), 1), ?, ?::jsonb)
     on conflict (run_id) do nothing
     returning *`,
    [
      runId,
      description,
      cacheKey(description),
      gherkin,
      confidence,
      provider,
      model,
      usage.inputTokens,
      usage.outputTokens,
      usage.latencyMs,
      Boolean(cached),
      parentId,
      parentId,
      JSON.stringify({
        featureName: check.summary.featureName,
        scenarios: check.summary.scenarios.map((s) => s.name),
        repaired,
        ...(cached && { cachedFromStoryId: cached.storyId }),
      }),
    ],
  );
  const story = rows[0] ? toStory(rows[0]) : await findStoryByRun(ctx, runId);
  if (!story) throw new Error(`story for run ${runId} was neither inserted nor found`);
  if (parentId) {
    await ctx.em.getConnection().execute(`update user_stories set status = 'superseded' where id = ? and status = 'draft'`, [parentId]);
  }
  if (!cached) {
    await ctx.cache.set(
      description,
      { gherkin, provider, model, confidence, storyId: story.id },
      ctx.config.storyCacheTtlSeconds,
    );
  }
  return finish(ctx, run, story, step, chat);
}

async function finish(
  ctx: CoreContext,
  run: RunSummary,
  story: StoryRecord,
  step: (p: Parameters<typeof recordEvent>[3]) => ReturnType<typeof recordEvent>,
  chat: (e: { seq: number } | undefined) => Promise<unknown>,
): Promise<StoryRecord> {
  const generator = story.provider === 'offline' ? 'offline generator' : `Claude (${story.model})`;
  await chat(
    await step({
      status: 'succeeded',
      stage: 'done',
      progress: 100,
      message: `Story ready: confidence ${story.confidenceScore.toFixed(2)}, ${generator}${story.cached ? ', from cache' : ''}`,
      data: storyEventData(story),
      result: { storyId: story.id },
    }),
  );
  await audit(ctx, { actor: run.requestedBy, action: 'story.generated', target: `story:${story.id}`, source: run.channel ?? run.sourcePlatform, data: { run: run.ref, provider: story.provider, cached: story.cached } });
  return story;
}

export function storyEventData(story: StoryRecord): Record<string, unknown> {
  return {
    storyId: story.id,
    gherkin: story.gherkin,
    confidence: story.confidenceScore,
    provider: story.provider,
    model: story.model,
    generator: story.provider === 'offline' ? 'offline generator' : story.model,
    cached: story.cached,
    version: story.version,
  };
}

function sum(a: number | null, b: number | null): number | null {
  return a == null && b == null ? null : (a ?? 0) + (b ?? 0);
}

/** Accept is consumed atomically: of two clicks, one wins and the other is told who did. */
export async function acceptStory({ ctx, actor }: { ctx: Pick<CoreContext, 'em'>; actor: Actor }, storyId: number): Promise<StoryRecord> {
  const rows: Row[] = await ctx.em.getConnection().execute(
    `update user_stories set status = 'accepted', accepted_by = ?, accepted_at = now()
     where id = ? and status = 'draft' returning *`,
    [actor.id, storyId],
  );
  if (!rows[0]) {
    const story = await getStory(ctx, storyId);
    if (story.status === 'accepted') throw new ConflictError(`This story was already accepted by ${story.acceptedBy}.`);
    throw new ConflictError('A newer version of this story replaced it; accept that one instead.');
  }
  const story = toStory(rows[0]);
  await audit(ctx, { actor: actor.id, action: 'story.accepted', target: `story:${story.id}`, source: actor.channel ?? actor.platform });
  return story;
}

/** Regenerate: a new run whose story is linked to this one, answered in the same thread. */
export async function regenerateStory(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  storyId: number,
  opts: { deliveryId: string; threadTs?: string },
): Promise<CreatedRun> {
  const story = await getStory(ctx, storyId);
  if (story.status === 'accepted') throw new ConflictError('This story is accepted; start a new one with "story …".');
  const parentRun = await getRun(ctx.em, story.runId);
  return requestStory(
    { ctx, actor },
    {
      description: story.featureDescription,
      deliveryId: opts.deliveryId,
      projectKey: parentRun.projectKey,
      parentStoryId: story.id,
      ...(opts.threadTs && { threadTs: opts.threadTs }),
    },
  );
}

