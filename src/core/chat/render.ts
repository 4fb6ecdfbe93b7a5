import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { ChatGoneError, type ChatAdapter, type RunView } from './adapter.js';
import { chatState, getRun, markChatRendered, noteResultOnce, saveChatRef, setThreadRef, findRun } from '../runs/store.js';
import { findStoryByRun, setStoryMessageRef, type StoryRecord } from '../stories/store.js';
import { channelsOfProject } from '../projects/store.js';
import { outcomeActions, runUrl, storyExportView } from './presentation.js';
import { isFinal, type RunSummary } from '../runs/model.js';
import type { ProjectConfig } from '../config.js';
import { nextEnvironment } from '../deploys/policy.js';
import { exportsOfStory } from '../exports/store.js';

export interface RenderDeps {
  em: EntityManager;
  adapters: Map<string, ChatAdapter>;
  publicUrl: string;
  logger: Logger;
  /** For the buttons a card offers (promotion pipeline, issue tracker). */
  projects?: ProjectConfig[];
  /** GitHub is configured (pull requests can be opened). */
  githubOn?: boolean;
}

/** What a story's card offers and links, for the chat render and for bots updating a card. */
export async function storyExtras(em: EntityManager, story: Pick<StoryRecord, 'id' | 'status'>, project: ProjectConfig | undefined, githubOn: boolean) {
  const options = { issue: project?.issues?.tracker ?? null, pullRequest: Boolean(githubOn && project?.repo) };
  return storyExportView(story, options, await exportsOfStory(em, story.id));
}

export type RenderOutcome = 'up to date' | 'rendered' | 'no chat' | 'gave up';

/** Chat already shows event `seq` (or a later one) of the run. */
export async function chatShows(em: EntityManager, runId: number, seq: number): Promise<boolean> {
  return (await chatState(em, runId)).chatSeq >= seq;
}

/**
 * What the next render of a run will send, for pacing: messages posted into its channel and
 * edits of messages already there. An outcome (the story, an approval card, a deploy's or docs
 * run's result) is what a person is waiting for; anything else is progress, which may wait or
 * be folded into a later render when the platform's budget runs short.
 */
export interface RenderPlan {
  outcome: boolean;
  posts: number;
  edits: number;
}

export function renderPlan(run: Pick<RunSummary, 'status' | 'threadRef' | 'kind'>): RenderPlan {
  const outcome = isFinal(run.status) || run.status === 'waiting_approval';
  const first = run.threadRef ? 0 : 1;
  // The run message is posted once and edited after; an outcome adds one message to its thread
  // (the story, the approval card, the deploy's outcome).
  return { outcome, posts: first + (outcome ? 1 : 0), edits: run.threadRef ? 1 : 0 };
}

/**
 * Brings a run's chat view up to date with its latest state: the run message (posted, then edited
 * in place), the story once it exists, the approval message while a deploy waits, the outcome once,
 * and a docs pull request announced in the project's other linked channels. What to show is
 * decided here; the chat job only serialises renders of one run and retries.
 */
export async function renderRunInChat(deps: RenderDeps, runId: number): Promise<RenderOutcome> {
  const { em } = deps;
  const run = await getRun(em, runId);
  const state = await chatState(em, runId);
  if (state.chatSeq >= run.lastSeq) return 'up to date';
  const view: RunView = { run, webUrl: runUrl(deps.publicUrl, run.ref), refs: state.refs };
  // A rollback answers in the thread of the deploy it rolls back, even when that run's message
  // was posted after the rollback was asked for.
  if (!run.threadRef && run.kind === 'deploy' && run.input.rollbackOf && !run.input.threadTs) {
    const followed = await findRun(em, run.input.rollbackOf);
    if (followed?.threadRef) view.followsMessageRef = followed.threadRef;
  }
  if (run.kind === 'docs' && run.status === 'succeeded') await announceInLinkedChannels(deps, view);
  const adapter = deps.adapters.get(run.sourcePlatform);
  if (!adapter) {
    await markChatRendered(em, runId, run.lastSeq);
    return 'no chat';
  }
  const project = deps.projects?.find((p) => p.key === run.projectKey);
  if (run.status === 'succeeded' && run.kind === 'story') {
    view.story = await findStoryByRun(em, runId);
    if (view.story) view.storyExports = await storyExtras(em, view.story, project, Boolean(deps.githubOn));
  }
  if (run.kind === 'deploy' && isFinal(run.status)) view.actions = outcomeActions(run, nextEnvironment(project, run.input.environment));
  try {
    await renderWith(deps, adapter, view);
  } catch (err) {
    if (!(err instanceof ChatGoneError)) throw err;
    // Bounded: the platform will not take it, so this state is not tried again (the next event tries once more).
    deps.logger.warn({ run: run.ref, err: err.message }, 'chat gave up on this run: the platform refuses its messages');
    await markChatRendered(em, runId, run.lastSeq);
    return 'gave up';
  }
  await markChatRendered(em, runId, run.lastSeq);
  return 'rendered';
}

async function renderWith(deps: RenderDeps, adapter: ChatAdapter, view: RunView & { story?: StoryRecord | undefined }): Promise<void> {
  const { em } = deps;
  const { run } = view;
  const runId = run.id;
  const story = view.story && !view.story.metadata.messageRef ? view.story : undefined;
  const postStory = async (ref: string) => {
    if (story) await setStoryMessageRef(em, story.id, await adapter.postStory({ ...view, story }, ref));
  };
  let ref: string;
  if (run.threadRef && story) {
    // The run message is there: its last edit and the story go out together (the story first in
    // line, it is what the person waits for). An edit may answer with a new message (the old one
    // was deleted): that becomes the thread.
    ref = run.threadRef;
    const [, edited] = await Promise.all([postStory(ref), adapter.upsertRunMessage(view)]);
    if (edited !== run.threadRef) await setThreadRef(em, runId, edited);
  } else {
    ref = await adapter.upsertRunMessage(view);
    if (ref !== run.threadRef) await setThreadRef(em, runId, ref);
    await postStory(ref);
  }
  if (run.kind === 'deploy' || run.kind === 'docs') await renderExtras(deps, adapter, view, ref);
}

/** The approval message (deploys; edited as decisions come in) and, once, the outcome. */
async function renderExtras(deps: RenderDeps, adapter: ChatAdapter, view: RunView, runMessageRef: string) {
  const { run } = view;
  const refs = view.refs ?? {};
  const approvals = run.kind === 'deploy' ? run.result.approvals : undefined;
  if (run.kind === 'deploy' && approvals && adapter.upsertApprovalMessage) {
    const ref = await adapter.upsertApprovalMessage({ ...view, run, approvals }, runMessageRef, refs.approval);
    if (ref !== refs.approval) await saveChatRef(deps.em, run.id, 'approval', ref);
  }
  const finished = isFinal(run.status);
  if (finished && !refs.outcome && adapter.postOutcome) {
    await saveChatRef(deps.em, run.id, 'outcome', await adapter.postOutcome(view, runMessageRef));
  }
}

/**
 * A finished docs run's pull request, announced once in every channel linked to the project.
 * Measured here: from the push's arrival to the link being posted.
 */
async function announceInLinkedChannels(deps: RenderDeps, view: RunView) {
  const run = view.run as RunSummary & { kind: 'docs' };
  if (!run.projectKey) return;
  const refs = view.refs ?? {};
  for (const channel of await channelsOfProject(deps.em, run.projectKey)) {
    // The channel the command came from gets the link in its run thread instead.
    if (channel === run.channel) continue;
    const adapter = deps.adapters.get(channel.split(':')[0]!);
    if (!adapter?.postNotice || refs[`notice:${channel}`]) continue;
    const ref = await adapter.postNotice(view, channel);
    await saveChatRef(deps.em, run.id, `notice:${channel}`, ref);
    const receivedAt = run.input.receivedAt;
    if (typeof receivedAt === 'number' && run.result.pushToLinkMs === undefined) {
      const ms = Date.now() - receivedAt;
      await noteResultOnce(deps.em, run.id, 'pushToLinkMs', ms);
      deps.logger.info({ run: run.ref, ms }, 'docs pull request announced');
    }
  }
}
