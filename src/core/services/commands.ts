import type { Actor, CoreContext } from '../context.js';
import { parseCommand, usageFor, type Command } from '../commands.js';
import { AppError, ConflictError, ForbiddenError } from '../errors.js';
import { FINAL_STATUSES } from '../db/entities.js';
import { findRun, getRun, listRuns, recordEvent, type RunSummary } from './runs.js';
import { requestStory } from './stories.js';
import { cancellable, decideApproval, requestDeploy } from './deploys.js';
import { requestDocs } from './docs.js';
import { linkChannel } from './projects.js';
import { audit } from './audit.js';

export interface CommandReply {
  text: string;
  /** Shown only to the person who typed the command (usage, errors, status). */
  ephemeral: boolean;
  run?: RunSummary;
  duplicate?: boolean;
  error?: boolean;
}

export interface RunCommandInput {
  text: string;
  /** The platform's id for this delivery (Slack trigger_id, an Idempotency-Key, …). */
  deliveryId: string;
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
  const parsed = parseCommand(input.text);
  if (!parsed.ok) {
    return { text: `${parsed.error}\n\n${parsed.usage.replaceAll('/autodevhub', prefix)}`, ephemeral: true, error: true };
  }
  try {
    return await dispatch(ctx, actor, parsed.command, input, prefix);
  } catch (err) {
    if (err instanceof AppError && err.status < 500) return { text: err.message, ephemeral: true, error: true };
    throw err;
  }
}

async function dispatch(ctx: CoreContext, actor: Actor, command: Command, input: RunCommandInput, prefix: string): Promise<CommandReply> {
  switch (command.verb) {
    case 'help':
      return { text: usageFor(command.topic, prefix), ephemeral: true };
    case 'story': {
      const { run, duplicate } = await requestStory(
        { ctx, actor },
        { description: command.description, deliveryId: input.deliveryId, ...(input.projectKey && { projectKey: input.projectKey }), ...(input.chatRefs && { chatRefs: input.chatRefs }) },
      );
      return {
        text: `Queued ${run.ref}: writing a user story. Follow it at ${ctx.config.publicUrl}/runs/${run.ref}`,
        ephemeral: false,
        run,
        duplicate,
      };
    }
    case 'status':
      return command.run ? describeRun(ctx, command.run) : recentRuns(ctx, actor);
    case 'cancel': {
      const run = await cancelRun({ ctx, actor }, command.run);
      return { text: `${run.ref} cancelled.`, ephemeral: false, run };
    }
    case 'deploy': {
      const { run, duplicate } = await requestDeploy(
        { ctx, actor },
        { environment: command.environment, deliveryId: input.deliveryId, ...(command.repo && { repo: command.repo }), ...(command.ref && { ref: command.ref }), ...(input.chatRefs && { chatRefs: input.chatRefs }) },
      );
      return { text: `Queued ${run.ref}: ${String(run.input.description)}. Follow it at ${ctx.config.publicUrl}/runs/${run.ref}`, ephemeral: false, run, duplicate };
    }
    case 'approve':
    case 'reject': {
      const { run, outcome } = await decideApproval({ ctx, actor }, { run: command.run, decision: command.verb, ...(command.reason && { reason: command.reason }) });
      const text =
        outcome === 'approved' ? `${run.ref} approved; deploying.` : outcome === 'rejected' ? `${run.ref} rejected.` : `Your ${command.verb === 'approve' ? 'approval' : 'rejection'} of ${run.ref} is recorded.`;
      return { text, ephemeral: false, run };
    }
    case 'docs': {
      const { run, duplicate } = await requestDocs(
        { ctx, actor },
        { deliveryId: input.deliveryId, ...(command.repo && { repo: command.repo }), ...(command.range && { range: command.range }), ...(input.chatRefs && { chatRefs: input.chatRefs }) },
      );
      return { text: `Queued ${run.ref}: ${String(run.input.description)}. Follow it at ${ctx.config.publicUrl}/runs/${run.ref}`, ephemeral: false, run, duplicate };
    }
    case 'link': {
      const project = await linkChannel({ ctx, actor }, command.repo);
      return { text: `This channel is now linked to ${project.repo} (project ${project.key}); commands here may leave out the repository.`, ephemeral: false };
    }
  }
}

async function describeRun(ctx: CoreContext, ref: string): Promise<CommandReply> {
  const run = await getRun(ctx.em, ref);
  const lines = [
    `${run.ref} ${run.kind}: ${run.status}${run.stage ? ` (${run.stage}, ${run.progress}%)` : ''}`,
    `requested by ${run.requestedBy} at ${run.createdAt}`,
    ...(run.error ? [`error: ${run.error}`] : []),
    `${ctx.config.publicUrl}/runs/${run.ref}`,
  ];
  return { text: lines.join('\n'), ephemeral: true, run };
}

async function recentRuns(ctx: CoreContext, actor: Actor): Promise<CommandReply> {
  const runs = await listRuns(ctx.em, { ...(actor.channel && { channel: actor.channel }), limit: 10 });
  if (!runs.length) return { text: 'No runs here yet. Try "story <feature idea>".', ephemeral: true };
  return {
    text: runs.map((r) => `${r.ref} ${r.kind} ${r.status}${r.stage ? ` (${r.stage})` : ''}, by ${r.requestedBy}`).join('\n'),
    ephemeral: true,
  };
}

/** Only the requester or an admin may cancel; a finished run stays as it finished. */
export async function cancelRun({ ctx, actor }: { ctx: CoreContext; actor: Actor }, ref: string): Promise<RunSummary> {
  const run = await getRun(ctx.em, ref);
  if (run.requestedBy !== actor.id && !ctx.config.admins.includes(actor.id)) {
    throw new ForbiddenError(`Only ${run.requestedBy} or an admin may cancel ${run.ref}.`);
  }
  if (FINAL_STATUSES.includes(run.status)) return run;
  if (!cancellable(run)) throw new ConflictError(`${run.ref} is already deploying; it can no longer be cancelled.`);
  // Atomic against an approval moving the run on: once it is deploying, the cancel loses.
  const event = await recordEvent(ctx.em, ctx.publisher, run.id, {
    status: 'cancelled',
    stage: 'cancelled',
    message: `Cancelled by ${actor.id}`,
    unlessStage: ['deploy', 'verify'],
  });
  if (!event && run.kind === 'deploy') throw new ConflictError(`${run.ref} is already deploying; it can no longer be cancelled.`);
  if (event) await ctx.scheduler.enqueueChatRender(run.id, event.seq);
  await audit(ctx, { actor: actor.id, action: 'run.cancelled', target: run.ref, source: actor.channel ?? actor.platform });
  return (await findRun(ctx.em, run.id)) ?? run;
}
