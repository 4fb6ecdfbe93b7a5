import type { TurnContext } from '@microsoft/agents-hosting';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import { AppError } from '../../core/errors.js';
import { runUrl } from '../../core/chat/presentation.js';
import { acceptStory, regenerateStory } from '../../core/stories/service.js';
import { approvalFor, decideApproval } from '../../core/deploys/service.js';
import { requestPromotion, requestRollbackOfRun } from '../../core/deploys/follow-ups.js';
import { exportStory, storyCard as storyCardData } from '../../core/exports/service.js';
import { approvalCard, escapeHtml, REFRESH_VERB, storyCard, VERBS } from './cards.js';

/**
 * Adaptive Card `Action.Execute` clicks (invoke `adaptiveCard/action`). The answer is the invoke
 * response: a message (`application/vnd.microsoft.activity.message`) is shown to the person who
 * clicked and no one else, a card (`application/vnd.microsoft.card.adaptive`) replaces the card for
 * them. Refusals are such messages.
 */

type InvokeBody = { statusCode: number; type: string; value: unknown };
type ActionData = Record<string, unknown> | undefined;

const message = (value: string): InvokeBody => ({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value });
const adaptiveCard = (value: unknown): InvokeBody => ({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value });

/** An error in words for the person: ours say what happened, anything else says nothing of the inside. */
export function errorText(err: unknown): string {
  if (err instanceof AppError) return escapeHtml(err.message);
  return 'AutoDevHub could not handle that. Nothing was changed; please try again.';
}

export function createActionHandler(opts: { context: () => CoreContext; logger: Logger; actorOf: (context: TurnContext) => Actor; refKey: string }) {
  /** The approval card as this person should see it: their decision, or their own request. */
  async function refreshApproval(ctx: CoreContext, actor: Actor, data: ActionData): Promise<InvokeBody> {
    const { run, approvals, mine, ownRequest } = await approvalFor({ ctx, actor }, String(data?.run));
    const viewer = { decision: mine, selfBlocked: ownRequest && approvals.preventSelfApproval };
    return adaptiveCard(approvalCard(run, approvals, runUrl(ctx.config.publicUrl, run.ref), viewer).content);
  }

  async function decide(ctx: CoreContext, actor: Actor, verb: string, data: ActionData): Promise<InvokeBody> {
    const { outcome } = await decideApproval({ ctx, actor }, { run: String(data?.run), decision: verb === VERBS.approve ? 'approve' : 'reject' });
    return message(outcome === 'recorded' ? 'Your decision is recorded.' : `Done: ${outcome}.`);
  }

  async function followUp(context: TurnContext, ctx: CoreContext, actor: Actor, verb: string, data: ActionData): Promise<InvokeBody> {
    // The follow-up run answers in this conversation, proactively, like a typed command.
    const chatRefs = { [opts.refKey]: JSON.stringify(context.activity.getConversationReference()) };
    const input = { run: String(data?.run), chatRefs };
    const created = verb === VERBS.promote ? await requestPromotion({ ctx, actor }, input) : await requestRollbackOfRun({ ctx, actor }, input);
    return message(created.duplicate ? `Already under way: ${created.run.ref}.` : `Queued ${created.run.ref}: ${escapeHtml(created.run.input.description)}`);
  }

  async function exportAction(ctx: CoreContext, actor: Actor, verb: string, data: ActionData): Promise<InvokeBody> {
    const done = await exportStory({ ctx, actor }, { storyId: Number(data?.story), kind: verb === VERBS.createIssue ? 'issue' : 'pull_request' });
    const view = await storyCardData(ctx, Number(data?.story));
    return done.created ? adaptiveCard(storyCard(view.story, '', view.run.ref, view.extras).content) : message(`Already there for this story version: ${done.export.url}`);
  }

  async function dispatch(context: TurnContext, ctx: CoreContext, actor: Actor, verb: string | undefined, data: ActionData): Promise<InvokeBody> {
    switch (verb) {
      case REFRESH_VERB:
        return refreshApproval(ctx, actor, data);
      case VERBS.approve:
      case VERBS.reject:
        return decide(ctx, actor, verb, data);
      case VERBS.accept: {
        const story = await acceptStory({ ctx, actor }, Number(data?.story));
        const view = await storyCardData(ctx, story.id);
        return adaptiveCard(storyCard(view.story, '', '', view.extras).content);
      }
      case VERBS.promote:
      case VERBS.rollback:
        return followUp(context, ctx, actor, verb, data);
      case VERBS.createIssue:
      case VERBS.openPr:
        return exportAction(ctx, actor, verb, data);
      case VERBS.regenerate:
        await regenerateStory({ ctx, actor }, Number(data?.story), { deliveryId: `activity:${context.activity.conversation!.id}:${context.activity.id}` });
        return message('A new version is on its way.');
      default:
        return { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'Unknown action' } };
    }
  }

  return async function onAction(context: TurnContext): Promise<InvokeBody> {
    const action = (context.activity.value as { action?: { verb?: string; data?: Record<string, unknown> } } | undefined)?.action;
    try {
      return await dispatch(context, opts.context(), opts.actorOf(context), action?.verb, action?.data);
    } catch (err) {
      if (!(err instanceof AppError)) opts.logger.error({ err }, 'Teams action failed');
      // Shown to the person who clicked, and no one else.
      return message(errorText(err));
    }
  };
}
