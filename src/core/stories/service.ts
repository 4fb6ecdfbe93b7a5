import type { Actor, CoreContext } from '../context.js';
import { checkGherkin } from '../ai/gherkin.js';
import { confidenceScore } from '../ai/confidence.js';
import { writtenBy, type StoryContext } from '../ai/provider.js';
import { assessDescription, type Refusal } from './assess.js';
import { addUsage, finishNeedsInput, storyContextFor, usageOf, type Usage } from './run-story.js';
import { cacheKey } from './cache.js';
import { AppError, ConflictError, NotFoundError, PermanentFailure } from '../errors.js';
import { exportStory, ExportUnavailable } from '../exports/service.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { getRun } from '../runs/store.js';
import { step } from '../runs/advance.js';
import { deliveryOf, type CreatedRun } from '../runs/intake.js';
import { isFinal, type StoryRun } from '../runs/model.js';
import { authorize } from '../access/authorize.js';
import { principalOf } from '../access/principal.js';
import { acceptDraft, findStory, findStoryByRun, insertStory, supersedeStory, type StoryRecord } from './store.js';

export type { StoryRecord } from './store.js';
export { findStoryByRun } from './store.js';

export interface RequestStoryInput {
  description: string;
  deliveryId: string;
  requestHash?: string;
  projectKey?: string | null;
  /** Regenerate: the story this one replaces, and the thread to answer in. */
  parentStoryId?: number;
  threadTs?: string;
  chatRefs?: Record<string, string>;
  /** `--issue`, `--pr`: export the story once it is stored. */
  exports?: Array<'issue' | 'pull_request'>;
}

/**
 * Ingress verb: the request becomes a queued run, stored and enqueued before this resolves. A
 * story asked for in a channel linked to a project belongs to that project.
 */
export async function requestStory({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: RequestStoryInput): Promise<CreatedRun> {
  const principal = await principalOf(ctx, actor);
  const projectKey = input.projectKey ?? principal.channel?.projectKey ?? null;
  await authorize(ctx, actor, 'story.create', { project: projectKey });
  return submitStory(ctx, actor, { ...input, projectKey });
}

function submitStory(ctx: CoreContext, actor: Actor, input: RequestStoryInput): Promise<CreatedRun> {
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
      ...(input.exports?.length && { exports: input.exports }),
    },
    delivery: deliveryOf(actor, input),
    message: input.parentStoryId ? 'Queued: a new version of the story' : 'Queued: writing a user story',
    ...(input.chatRefs && { chatRefs: input.chatRefs }),
  });
}

export async function getStory(ctx: Pick<CoreContext, 'em'>, id: number): Promise<StoryRecord> {
  const story = await findStory(ctx.em, id);
  if (!story) throw new NotFoundError(`There is no story ${id}.`);
  return story;
}

interface Draft {
  gherkin: string;
  provider: string;
  model: string;
  usage: Usage;
  openQuestions: string[];
  cachedFromStoryId?: number;
  repaired: boolean;
  outputMode?: string;
}

/**
 * Worker verb: generate (or reuse from cache), validate with the Gherkin parser, repair once,
 * score, store. Safe to run again for the same run: a stored story is reused, not duplicated.
 * Every step goes through the run's one door, so chat and feeds show each of them (repair too).
 * A description no story can be written from ends the run as needs_input.
 */
export async function generateStory({ ctx, runId }: { ctx: CoreContext; runId: number }): Promise<StoryRecord | undefined> {
  const run = (await getRun(ctx.em, runId)) as StoryRun;
  if (isFinal(run.status)) return findStoryByRun(ctx.em, runId);
  const existing = await findStoryByRun(ctx.em, runId);
  if (existing) return finish(ctx, run, existing);

  const description = run.input.description;
  const regenerate = typeof run.input.parentStoryId === 'number';
  await step(ctx, runId, { status: 'running', stage: 'generate', progress: 10, message: `Writing the story with the ${ctx.provider.label}` });
  const base = await storyContextFor(ctx, run.projectKey);
  const parent = regenerate ? await findStory(ctx.em, Number(run.input.parentStoryId)) : null;
  const context = parent ? { ...base, previous: parent.gherkin } : base;
  const assessment = assessDescription(description);
  const draft = await draftStory(ctx, { description, projectKey: run.projectKey ?? null }, regenerate, context);
  if ('refusal' in draft) return finishNeedsInput(ctx, run, draft.refusal, { provider: ctx.provider, usage: draft.usage, assessment });

  await step(ctx, runId, { stage: 'validate', progress: 60, message: 'Checking the Gherkin with the Cucumber parser' });
  let check = checkGherkin(draft.gherkin);
  if (!check.ok && draft.cachedFromStoryId) throw new PermanentFailure(`A cached story failed to parse: ${check.error}`);
  if (!check.ok) {
    await step(ctx, runId, { stage: 'repair', progress: 70, message: `The story did not parse (${check.error}); asking for one repair`, result: { repaired: true } });
    const fixed = await ctx.provider.repair(description, draft.gherkin, check.error, context);
    Object.assign(draft, { gherkin: fixed.gherkin, usage: addUsage(draft.usage, usageOf(fixed)), repaired: true, ...(fixed.openQuestions?.length && { openQuestions: fixed.openQuestions }) });
    check = checkGherkin(draft.gherkin);
    if (!check.ok) throw new PermanentFailure(`The generated story is not valid Gherkin, even after one repair: ${check.error}. Try rewording the idea.`);
  }

  const confidence = confidenceScore({
    summary: check.summary,
    signals: assessment.language === 'en' ? assessment.signals : null,
    repaired: draft.repaired,
    provider: draft.provider,
  });

  await step(ctx, runId, { stage: 'store', progress: 85, message: 'Storing the story' });
  const parentId = regenerate ? Number(run.input.parentStoryId) : null;
  // The new version and the old one's retirement commit together.
  const story = await transaction(ctx, async (tx) => {
    const stored = await insertStory(tx.em, {
      runId,
      featureDescription: description,
      normalizedKey: cacheKey(description),
      gherkin: draft.gherkin,
      confidenceScore: confidence,
      provider: draft.provider,
      model: draft.model,
      inputTokens: draft.usage.inputTokens,
      outputTokens: draft.usage.outputTokens,
      cacheReadTokens: draft.usage.cacheReadTokens,
      cacheWriteTokens: draft.usage.cacheWriteTokens,
      costUsd: draft.usage.costUsd,
      latencyMs: draft.usage.latencyMs,
      cached: Boolean(draft.cachedFromStoryId),
      parentId,
      openQuestions: draft.openQuestions,
      metadata: {
        featureName: check.summary.featureName,
        scenarios: check.summary.scenarios.map((s) => s.name),
        repaired: draft.repaired,
        ...(draft.outputMode && { outputMode: draft.outputMode }),
        ...(draft.cachedFromStoryId && { cachedFromStoryId: draft.cachedFromStoryId }),
      },
    });
    if (parentId) await supersedeStory(tx.em, parentId);
    return stored;
  });
  if (!draft.cachedFromStoryId) {
    await ctx.cache.set(
      run.projectKey ?? null,
      description,
      { gherkin: draft.gherkin, provider: draft.provider, model: draft.model, confidence, storyId: story.id, openQuestions: draft.openQuestions },
      ctx.config.storyCacheTtlSeconds,
    );
  }
  return finish(ctx, run, story);
}

/** A fresh draft from the provider (or its refusal), or the cached story for a near-identical description. */
async function draftStory(ctx: CoreContext, { description, projectKey }: { description: string; projectKey: string | null }, regenerate: boolean, context: StoryContext): Promise<Draft | { refusal: Refusal; usage: Usage }> {
  const cached = regenerate ? undefined : await ctx.cache.get(projectKey, description);
  if (cached) {
    return { gherkin: cached.gherkin, provider: cached.provider, model: cached.model, usage: usageOf(null), openQuestions: cached.openQuestions ?? [], cachedFromStoryId: cached.storyId, repaired: false };
  }
  const generated = await ctx.provider.generate(description, context);
  const usage = usageOf(generated);
  if (generated.refusal) return { refusal: generated.refusal, usage };
  return { gherkin: generated.gherkin, provider: ctx.provider.name, model: ctx.provider.model, usage, openQuestions: generated.openQuestions ?? [], repaired: false, ...(generated.outputMode && { outputMode: generated.outputMode }) };
}

async function finish(ctx: CoreContext, run: StoryRun, story: StoryRecord): Promise<StoryRecord> {
  const generator = writtenBy(story.provider, story.model);
  const exported = await exportRequested(ctx, run, story);
  await transaction(ctx, async (tx) => {
    await step(tx, run.id, {
      status: 'succeeded',
      stage: 'done',
      progress: 100,
      message: `Story ready: confidence ${story.confidenceScore.toFixed(2)}, ${generator}${story.cached ? ', from cache' : ''}${exported.notes.map((n) => `; ${n}`).join('')}`,
      data: { ...storyEventData(story), ...(exported.exports.length && { exports: exported.exports, links: Object.fromEntries(exported.exports.map((e) => [e.kind === 'issue' ? 'issue' : 'pullRequest', e.url])) }) },
      result: { storyId: story.id, ...(exported.exports.length && { exports: exported.exports }) },
    });
    await audit(tx, { actor: run.requestedBy, action: 'story.generated', target: `story:${story.id}`, source: run.channel ?? run.sourcePlatform, data: { run: run.ref, provider: story.provider, cached: story.cached } });
  });
  return story;
}

/**
 * `story … --issue` / `--pr`: the stored story goes to the project's tracker and repository
 * before the run finishes, so the story message carries the links. A refusal (no project, no
 * tracker) is told in the run and does not fail the story; an outage is retried with the job, and
 * the claim (taken as this run) is the job's own to take back.
 */
async function exportRequested(ctx: CoreContext, run: StoryRun, story: StoryRecord): Promise<{ exports: Array<{ kind: string; url: string; id: string | null; target: string }>; notes: string[] }> {
  const wanted = run.input.exports ?? [];
  const exports: Array<{ kind: string; url: string; id: string | null; target: string }> = [];
  const notes: string[] = [];
  if (!wanted.length) return { exports, notes };
  await step(ctx, run.id, { stage: 'export', progress: 92, message: `Exporting the story: ${wanted.map((w) => (w === 'issue' ? 'issue' : 'pull request')).join(' and ')}` });
  const actor = { id: run.requestedBy, platform: run.sourcePlatform, channel: run.channel };
  for (const kind of wanted) {
    try {
      const done = await exportStory({ ctx, actor }, { storyId: story.id, kind, claimant: `${actor.id} (${run.ref})` });
      if (done.export.url) exports.push({ kind, url: done.export.url, id: done.export.externalId, target: done.export.target });
    } catch (err) {
      // An outage is retried with the job; a refusal (no project, no tracker, 4xx) is told and kept.
      if (!(err instanceof AppError) || err instanceof ExportUnavailable) throw err;
      notes.push(`no ${kind === 'issue' ? 'issue' : 'pull request'}: ${err.message}`);
    }
  }
  return { exports, notes };
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
    openQuestions: story.openQuestions,
    usage: {
      inputTokens: story.inputTokens,
      outputTokens: story.outputTokens,
      cacheReadTokens: story.cacheReadTokens,
      cacheWriteTokens: story.cacheWriteTokens,
      latencyMs: story.latencyMs,
      costUsd: story.costUsd,
    },
  };
}

/** A story, for someone who may read its run. */
export async function readStory({ ctx, actor }: { ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>; actor: Actor }, storyId: number): Promise<StoryRecord> {
  const story = await getStory(ctx, storyId);
  await authorize(ctx, actor, 'run.read', { run: await getRun(ctx.em, story.runId), target: `story:${storyId}` });
  return story;
}

/** Accept is consumed atomically: of two clicks, one wins and the other is told who did. */
export async function acceptStory({ ctx, actor }: { ctx: Pick<CoreContext, 'em' | 'config' | 'logger'>; actor: Actor }, storyId: number): Promise<StoryRecord> {
  const before = await getStory(ctx, storyId);
  await authorize(ctx, actor, 'story.accept', { run: await getRun(ctx.em, before.runId), target: `story:${storyId}` });
  const won = await transaction(ctx, async (tx) => {
    if (!(await acceptDraft(tx.em, storyId, actor.id))) return false;
    await audit(tx, { actor: actor.id, action: 'story.accepted', target: `story:${storyId}`, source: actor.channel ?? actor.platform });
    return true;
  });
  const story = await getStory(ctx, storyId);
  if (won) return story;
  if (story.status === 'accepted') throw new ConflictError(`This story was already accepted by ${story.acceptedBy}.`);
  throw new ConflictError('A newer version of this story replaced it; accept that one instead.');
}

/** Regenerate: a new run whose story is linked to this one, answered in the same thread. */
export async function regenerateStory(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  storyId: number,
  opts: { deliveryId: string; threadTs?: string },
): Promise<CreatedRun> {
  const story = await getStory(ctx, storyId);
  const parentRun = await getRun(ctx.em, story.runId);
  await authorize(ctx, actor, 'story.regenerate', { run: parentRun, target: `story:${storyId}` });
  if (story.status === 'accepted') throw new ConflictError('This story is accepted; start a new one with "story …".');
  return submitStory(
    ctx,
    actor,
    {
      description: story.featureDescription,
      deliveryId: opts.deliveryId,
      projectKey: parentRun.projectKey,
      parentStoryId: story.id,
      ...(opts.threadTs && { threadTs: opts.threadTs }),
    },
  );
}
