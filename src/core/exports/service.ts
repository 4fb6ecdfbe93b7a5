import type { Actor, CoreContext } from '../context.js';
import { authorize } from '../access/authorize.js';
import type { ProjectConfig } from '../config.js';
import { AppError, ConflictError, NotFoundError, NotConfiguredError, ServiceUnavailableError, ValidationError } from '../errors.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { checkGherkin } from '../ai/gherkin.js';
import { getRun } from '../runs/store.js';
import { findStory, type StoryRecord } from '../stories/store.js';
import { projectFor } from '../deploys/policy.js';
import { storyExportView, storyTitle, runUrl } from '../chat/presentation.js';
import type { IssueInput } from './issue-body.js';
import { openStoryPullRequest } from './pull-request.js';
import { claimExport, exportsOfStory, findExport, finishExport, type ExportKind, type ExportRecord } from './store.js';

export type { ExportKind, ExportRecord } from './store.js';

/**
 * A story version into an issue tracker ("Create issue", `story … --issue`) or into the repository
 * as a pull request ("Open PR", `story … --pr`). Once per story version and kind: the export is
 * claimed in Postgres before any outside call (one statement: of two concurrent clicks one wins),
 * and an attempt that takes over an abandoned or failed claim first looks for what the earlier
 * attempt may have made (the tracker's marker; the PR's branch), so a retry never makes a second.
 * A `claimant` (a run exporting its own story) may take back its own pending claim when its job is
 * retried; people clicking never can, so a double click stays one export.
 */

const STALE_CLAIM_MS = 5 * 60_000;
const LABEL: Record<ExportKind, string> = { issue: 'issue', pull_request: 'pull request' };

/** The tracker or GitHub did not answer: worth trying again (a job retries; a person clicks again). */
export class ExportUnavailable extends ServiceUnavailableError {}

export interface ExportOutcome {
  export: ExportRecord;
  /** false: it existed already (a second click, a retry). */
  created: boolean;
}

function issueInput(story: StoryRecord, runRef: string, publicUrl: string): IssueInput {
  const check = checkGherkin(story.gherkin);
  return {
    title: storyTitle(story, `Story ${story.id}`),
    description: story.featureDescription,
    gherkin: story.gherkin,
    scenarios: check.ok ? check.summary.scenarios.map((s) => s.name) : [],
    openQuestions: story.openQuestions,
    storyId: story.id,
    version: story.version,
    runRef,
    runUrl: runUrl(publicUrl, runRef),
    labels: [],
  };
}

interface Target {
  name: string;
  create(): Promise<{ id: string; url: string }>;
  find(): Promise<{ id: string; url: string } | undefined>;
}

function targetFor(ctx: CoreContext, kind: ExportKind, project: ProjectConfig, story: StoryRecord, runRef: string): Target {
  const input = issueInput(story, runRef, ctx.config.publicUrl);
  if (kind === 'issue') {
    const tracker = ctx.trackers.forProject(project);
    return { name: tracker.name, create: () => tracker.create(input), find: () => tracker.find(input) };
  }
  if (!ctx.github) throw new NotConfiguredError('Pull requests need GitHub: set GITHUB_TOKEN.');
  if (!project.repo) throw new ValidationError(`Project ${project.key} has no repository to open the pull request in.`);
  const open = () => openStoryPullRequest(ctx.github!, { project: project as ProjectConfig & { repo: string }, story, runRef, runUrl: input.runUrl });
  // The branch is per story version and the pull request is found by it: opening again finds it.
  return { name: 'github', create: open, find: async () => undefined };
}

export async function exportStory(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  input: { storyId: number; kind: ExportKind; claimant?: string },
): Promise<ExportOutcome> {
  const story = await findStory(ctx.em, input.storyId);
  if (!story) throw new NotFoundError(`There is no story ${input.storyId}.`);
  const run = await getRun(ctx.em, story.runId);
  const project = projectFor(ctx, run.projectKey);
  if (!project) throw new ValidationError('This story belongs to no project: write it in a channel linked to a project (or pick a project in the console) to export it.');
  await authorize(ctx, actor, 'story.export', { project: project.key, run });
  const target = targetFor(ctx, input.kind, project, story, run.ref);
  const claimed = await claimExport(ctx.em, { storyId: story.id, kind: input.kind, target: target.name, requestedBy: input.claimant ?? actor.id, staleMs: STALE_CLAIM_MS, ...(input.claimant && { retakeOwn: input.claimant }) });
  if (!claimed) return alreadyThere(ctx, story, input.kind);
  const { claim, retaken } = claimed;
  let made: { id: string; url: string } | undefined;
  try {
    made = (retaken ? await target.find() : undefined) ?? (await target.create());
  } catch (err) {
    await finishExport(ctx.em, claim.id, claim.claimedAt, { state: 'failed', error: (err as Error).message });
    await audit(ctx, { actor: actor.id, action: `story.${input.kind}_failed`, target: `story:${story.id}`, source: actor.channel ?? actor.platform, data: { error: (err as Error).message.slice(0, 300) } });
    if (err instanceof AppError) throw err;
    throw new ExportUnavailable(`The ${LABEL[input.kind]} could not be created: ${(err as Error).message}. Try again in a moment.`);
  }
  await transaction(ctx, async (tx) => {
    await finishExport(tx.em, claim.id, claim.claimedAt, { state: 'done', externalId: made.id, url: made.url });
    await audit(tx, { actor: actor.id, action: input.kind === 'issue' ? 'story.issue_created' : 'story.pr_opened', target: `story:${story.id}`, source: actor.channel ?? actor.platform, data: { target: target.name, id: made.id, url: made.url, version: story.version } });
  });
  return { export: (await findExport(ctx.em, story.id, input.kind))!, created: true };
}

async function alreadyThere(ctx: CoreContext, story: StoryRecord, kind: ExportKind): Promise<ExportOutcome> {
  const existing = await findExport(ctx.em, story.id, kind);
  if (existing?.state === 'done') return { export: existing, created: false };
  throw new ConflictError(`The ${LABEL[kind]} for this story version is being created (asked by ${existing?.requestedBy ?? 'someone'}); its link follows.`);
}

/** What has been exported of a story version, for cards and the API. */
export function storyExports(ctx: Pick<CoreContext, 'em'>, storyId: number): Promise<ExportRecord[]> {
  return exportsOfStory(ctx.em, storyId);
}

/** Which exports a story's card may offer: its project's tracker, and pull requests when GitHub is on. */
export function exportOptions(ctx: Pick<CoreContext, 'config' | 'github'>, projectKey: string | null): { issue: string | null; pullRequest: boolean } {
  const project = projectFor(ctx, projectKey);
  return { issue: project?.issues?.tracker ?? null, pullRequest: Boolean(ctx.github && project?.repo) };
}

/** A story's card as every platform draws it: the story, its run, its export links and buttons. */
export async function storyCard(ctx: Pick<CoreContext, 'em' | 'config' | 'github'>, storyId: number) {
  const story = await findStory(ctx.em, storyId);
  if (!story) throw new NotFoundError(`There is no story ${storyId}.`);
  const run = await getRun(ctx.em, story.runId);
  const extras = storyExportView(story, exportOptions(ctx, run.projectKey), await exportsOfStory(ctx.em, story.id));
  return { story, run, extras };
}
