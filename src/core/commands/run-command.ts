import type { Actor, CoreContext } from '../context.js';
import { parseCommand, usageFor, type Command } from './grammar.js';
import { AppError, ConflictError } from '../errors.js';
import { audit } from '../audit/store.js';
import { annotateLog } from '../logger.js';
import { transaction } from '../db/transaction.js';
import { findRun, listRuns } from '../runs/store.js';
import { authorize } from '../access/authorize.js';
import { principalOf } from '../access/principal.js';
import { filterReadable, readableRun, readableRuns } from '../access/reads.js';
import { whoAmI } from '../access/people.js';
import { advance } from '../runs/advance.js';
import type { CreatedRun } from '../runs/intake.js';
import { isFinal, type RunSummary } from '../runs/model.js';
import { requestStory } from '../stories/service.js';
import { cancellable, decideApproval, requestDeploy } from '../deploys/service.js';
import { requestPromotion, requestRollback } from '../deploys/follow-ups.js';
import { requestDocs } from '../docs/service.js';
import { linkChannel } from '../projects/service.js';
import { runUrl, statusLabel } from '../chat/presentation.js';
import type { Place } from '../safety/index.js';
import { listLocks, lockEnvironment, showFreezes, showQueue, unlockEnvironment } from '../safety/verbs.js';

export interface CommandReply {
  /** The whole answer as plain text (message, then usage when there is one). */
  text: string;
  /** Usage text, for surfaces that show it apart (a code block, a table). */
  usage?: string;
  /** The answer without the usage. */
  message?: string;
  /** Shown only to the person who typed the command (usage, errors, status). */
  ephemeral: boolean;
  run?: RunSummary;
  duplicate?: boolean;
  /** false: the run is stored but the job queue is down; it starts when the queue is back. */
  queued?: boolean;
  error?: boolean;
  /** For an error: the HTTP status it maps to (400 usage, 403, 404, 409, 422, 429 …). */
  status?: number;
  /** Too many commands: when to try again. */
  retryAfterSeconds?: number;
}

export interface RunCommandInput {
  text: string;
  /** The platform's id for this delivery (Slack trigger_id, an Idempotency-Key, …). */
  deliveryId: string;
  /** A hash of the whole request, for deliveries whose id a client chooses (Idempotency-Key). */
  requestHash?: string;
  /** How the surface spells the command, for usage text: "/autodevhub", "@AutoDevHub". */
  prefix?: string;
  /** The project to run in, when the surface knows it (the console's project picker). */
  projectKey?: string;
  /** Chat references to store with a run this command creates (a Discord interaction token). */
  chatRefs?: Record<string, string>;
}

/** The one entry point for commands from every surface. Never throws for bad input. */
export async function runCommand({ ctx, actor }: { ctx: CoreContext; actor: Actor }, input: RunCommandInput): Promise<CommandReply> {
  const prefix = input.prefix ?? '/autodevhub';
  annotateLog({ deliveryId: input.deliveryId });
  try {
    const tooFast = await commandLimit(ctx, actor);
    if (tooFast) return tooFast;
    const parsed = parseCommand(input.text);
    if (!parsed.ok) {
      // The console and the API have no prefix: no stray space before the verb.
      const usage = parsed.usage.replaceAll('/autodevhub ', prefix ? `${prefix} ` : '');
      return { text: `${parsed.error}\n\n${usage}`, message: parsed.error, usage, ephemeral: true, error: true, status: 400 };
    }
    return await dispatch(ctx, actor, withChosenProject(ctx, parsed.command, input.projectKey), input, prefix);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) return { text: err.message, ephemeral: true, error: true, status: err.status };
    throw err;
  }
}

/** Per person, on every platform: past the limit a person is told, privately, when to try again. */
async function commandLimit(ctx: CoreContext, actor: Actor): Promise<CommandReply | undefined> {
  if (!ctx.limits) return undefined;
  const { person } = await principalOf(ctx, actor);
  const state = await ctx.limits.consume('commands', person);
  if (state.ok) return undefined;
  const seconds = Math.max(1, Math.ceil(state.resetMs / 1000));
  return { text: `Slow down: you have sent ${state.limit} commands in a short time. Try again in ${seconds} s.`, ephemeral: true, error: true, status: 429, retryAfterSeconds: seconds };
}

/** What a person is told about a run they just started. */
function queuedReply(ctx: CoreContext, created: CreatedRun, what: string): CommandReply {
  const { run, duplicate, queued } = created;
  const follow = `Follow it at ${runUrl(ctx.config.publicUrl, run.ref)}`;
  const text = queued
    ? `Queued ${run.ref}: ${what}. ${follow}`
    : `${run.ref} is saved (${what}), but the job queue is not answering: it will start by itself when the queue is back. ${follow}`;
  return { text, ephemeral: false, run, duplicate, queued };
}

/** A deploy's answer says where it stands in its environment's queue. */
function placedReply(ctx: CoreContext, created: CreatedRun & { place?: Place }, what: string): CommandReply {
  const place = created.place;
  if (place?.place === 'superseded') {
    return { text: `${created.run.ref} (${what}) was superseded at once by ${place.by.ref}, a newer request that waits for the same environment; nothing of ${created.run.ref} will be deployed.`, ephemeral: false, run: created.run, queued: created.queued };
  }
  if (place?.place === 'finished' && created.run.status === 'cancelled') return { text: `${created.run.ref} (${what}): ${created.run.error ?? 'cancelled'}`, ephemeral: false, run: created.run, queued: created.queued };
  const reply = queuedReply(ctx, created, what);
  if (place?.place !== 'waiting') return reply;
  const replaced = place.superseded ? ` It replaces ${place.superseded.ref} (${place.superseded.requestedBy}), which waited before it and is cancelled as superseded.` : '';
  return { ...reply, text: `${reply.text}\nIt waits: ${place.behind.ref} (${place.behind.requestedBy}) has the environment now; this deploy starts when that finishes.${replaced}` };
}

/**
 * The project a surface chose (the console's picker, the API's `project`, the CLI's --project) is
 * the one a verb that may name a repository uses when its text names none: a channel is not the
 * only place a project can come from.
 */
function withChosenProject(ctx: CoreContext, command: Command, projectKey: string | undefined): Command {
  const repo = projectKey ? ctx.config.projects.find((p) => p.key === projectKey)?.repo : undefined;
  if (!repo) return command;
  switch (command.verb) {
    case 'deploy':
    case 'docs':
    case 'lock':
    case 'unlock':
    case 'locks':
    case 'freezes':
    case 'queue':
      return command.repo ? command : { ...command, repo };
    case 'rollback':
      return command.project ? command : { ...command, project: projectKey! };
    default:
      return command;
  }
}

async function dispatch(ctx: CoreContext, actor: Actor, command: Command, input: RunCommandInput, prefix: string): Promise<CommandReply> {
  const delivery = { deliveryId: input.deliveryId, ...(input.requestHash && { requestHash: input.requestHash }), ...(input.chatRefs && { chatRefs: input.chatRefs }) };
  switch (command.verb) {
    case 'help': {
      await authorize(ctx, actor, 'help');
      const usage = usageFor(command.topic, prefix);
      return { text: usage, message: '', usage, ephemeral: true };
    }
    case 'whoami':
      return { text: await whoAmI({ ctx, actor }), ephemeral: true };
    case 'story': {
      const created = await requestStory({ ctx, actor }, { description: command.description, ...delivery, ...(input.projectKey && { projectKey: input.projectKey }), ...(command.exports && { exports: command.exports }) });
      const also = command.exports?.map((e) => (e === 'issue' ? 'filing it as an issue' : 'opening a pull request')).join(' and ');
      return queuedReply(ctx, created, `writing a user story${also ? `, then ${also}` : ''}`);
    }
    case 'status':
      return command.run ? describeRun(ctx, actor, command.run) : recentRuns(ctx, actor);
    case 'cancel': {
      const run = await cancelRun({ ctx, actor }, command.run);
      if (run.status !== 'cancelled') return { text: `${run.ref} had already finished (${statusLabel(run.status)}); there is nothing to cancel.`, ephemeral: true, error: true, status: 409, run };
      return { text: `${run.ref} cancelled.`, ephemeral: false, run };
    }
    case 'deploy': {
      const created = await requestDeploy({ ctx, actor }, { environment: command.environment, ...delivery, ...(command.repo && { repo: command.repo }), ...(command.ref && { ref: command.ref }), ...(command.override && { override: command.override }) });
      return placedReply(ctx, created, created.run.input.description);
    }
    case 'promote': {
      const created = await requestPromotion({ ctx, actor }, { run: command.run, ...(input.chatRefs && { chatRefs: input.chatRefs }), ...(command.override && { override: command.override }) });
      if (created.duplicate) return { text: `${command.run} is already being promoted to ${created.environment}: ${created.run.ref} (${statusLabel(created.run.status)}).`, ephemeral: true, run: created.run, duplicate: true };
      return placedReply(ctx, created, created.run.input.description);
    }
    case 'rollback': {
      const created = await requestRollback({ ctx, actor }, { environment: command.environment, ...(command.project && { project: command.project }), ...(input.chatRefs && { chatRefs: input.chatRefs }), ...(command.override && { override: command.override }) });
      if (created.duplicate) return { text: `${command.environment} is already being rolled back: ${created.run.ref} (${statusLabel(created.run.status)}).`, ephemeral: true, run: created.run, duplicate: true };
      return placedReply(ctx, created, created.run.input.description);
    }
    case 'approve':
    case 'reject': {
      const { run, outcome } = await decideApproval({ ctx, actor }, { run: command.run, decision: command.verb, ...(command.reason && { reason: command.reason }) });
      const text =
        outcome === 'approved' ? `${run.ref} approved; deploying.` : outcome === 'rejected' ? `${run.ref} rejected.` : `Your ${command.verb === 'approve' ? 'approval' : 'rejection'} of ${run.ref} is recorded.`;
      return { text, ephemeral: false, run };
    }
    case 'docs': {
      const created = await requestDocs({ ctx, actor }, { ...delivery, ...(command.repo && { repo: command.repo }), ...(command.range && { range: command.range }) });
      return queuedReply(ctx, created, created.run.input.description);
    }
    case 'lock':
      return { text: await lockEnvironment({ ctx, actor }, command), ephemeral: false };
    case 'unlock':
      return { text: await unlockEnvironment({ ctx, actor }, command), ephemeral: false };
    case 'locks':
      return { text: await listLocks({ ctx, actor }, command), ephemeral: true };
    case 'freezes':
      return { text: await showFreezes({ ctx, actor }, command), ephemeral: true };
    case 'queue':
      return { text: await showQueue({ ctx, actor }, command), ephemeral: true };
    case 'link': {
      const project = await linkChannel({ ctx, actor }, command.repo);
      return { text: `This channel is now linked to ${project.repo} (project ${project.key}); commands here may leave out the repository.`, ephemeral: false };
    }
  }
}

async function describeRun(ctx: CoreContext, actor: Actor, ref: string): Promise<CommandReply> {
  const run = await readableRun(ctx, actor, ref);
  const lines = [
    `${run.ref} ${run.kind}: ${statusLabel(run.status)}${run.stage ? ` (${run.stage}, ${run.progress}%)` : ''}`,
    `requested by ${run.requestedBy} at ${run.createdAt}`,
    ...(run.error ? [`error: ${run.error}`] : []),
    runUrl(ctx.config.publicUrl, run.ref),
  ];
  return { text: lines.join('\n'), ephemeral: true, run };
}

/** In chat: this channel's recent runs; elsewhere: the person's readable runs. Each as they may see it. */
async function recentRuns(ctx: CoreContext, actor: Actor): Promise<CommandReply> {
  const runs = actor.channel ? await filterReadable(ctx, actor, await listRuns(ctx.em, { channel: actor.channel, limit: 10 })) : await readableRuns(ctx, actor, { limit: 10 });
  if (!runs.length) return { text: 'No runs here yet. Try "story <feature idea>".', ephemeral: true };
  return {
    text: runs.map((r) => `${r.ref} ${r.kind} ${statusLabel(r.status)}${r.stage ? ` (${r.stage})` : ''}, by ${r.requestedBy}`).join('\n'),
    ephemeral: true,
  };
}

/** The requester, a maintainer of the project or an admin may cancel; a finished run stays as it finished. */
export async function cancelRun({ ctx, actor }: { ctx: CoreContext; actor: Actor }, ref: string): Promise<RunSummary> {
  const run = await readableRun(ctx, actor, ref);
  await authorize(ctx, actor, 'run.cancel', { run });
  if (isFinal(run.status)) return run;
  if (!cancellable(run)) throw new ConflictError(`${run.ref} is already deploying; it can no longer be cancelled.`);
  // Atomic against an approval moving the run on: once it is deploying, the cancel loses.
  const cancelled = await transaction(ctx, async (tx) => {
    const event = await advance(tx, run.id, { status: 'cancelled', stage: 'cancelled', message: `Cancelled by ${actor.id}`, unlessStage: ['deploy', 'verify'] });
    if (event) await audit(tx, { actor: actor.id, action: 'run.cancelled', target: run.ref, source: actor.channel ?? actor.platform });
    return Boolean(event);
  });
  if (!cancelled && run.kind === 'deploy') throw new ConflictError(`${run.ref} is already deploying; it can no longer be cancelled.`);
  return (await findRun(ctx.em, run.id)) ?? run;
}
