import { Activity, ActivityTypes, type ConversationReference } from '@microsoft/agents-activity';
import type { CloudAdapter, TurnContext } from '@microsoft/agents-hosting';
import type { ChatAdapter, RunView } from '../../core/chat/adapter.js';
import { approvalCard, outcomeCard, outcomeText, runCard, storyCard } from './cards.js';

/**
 * Run output in Teams: proactive messages from the conversation reference stored with the run
 * (`chat_refs.teams_ref`), edited in place. References are `teams:<conversation id>:<activity id>`.
 */

export const REF_KEY = 'teams_ref';

export function encodeRef(conversationId: string, activityId: string): string {
  return `teams:${conversationId}:${activityId}`;
}
export function decodeRef(ref: string): { conversationId: string; activityId: string } {
  const i = ref.lastIndexOf(':');
  return { conversationId: ref.slice('teams:'.length, i), activityId: ref.slice(i + 1) };
}

/** A reference stored by botbuilder named the bot `bot`; the Agents SDK calls it `agent`. */
export function parseReference(raw: string): ConversationReference {
  const ref = JSON.parse(raw) as ConversationReference & { bot?: ConversationReference['agent'] };
  return { ...ref, agent: ref.agent ?? ref.bot };
}

/** `botIdentity`: the bot's app id (the audience of its tokens), or `{}` in local-testing mode (no token). */
export function createTeamsChat(adapter: CloudAdapter, botIdentity: string | Record<string, never>): ChatAdapter {
  async function inConversation(view: RunView, fn: (context: TurnContext) => Promise<void>) {
    const raw = view.refs?.[REF_KEY];
    if (!raw) throw new Error(`${view.run.ref} has no Teams conversation reference`);
    await adapter.continueConversation(botIdentity, parseReference(raw), fn);
  }

  async function send(view: RunView, activity: Record<string, unknown>): Promise<string> {
    let ref = '';
    await inConversation(view, async (context) => {
      const sent = await context.sendActivity(Activity.fromObject(activity));
      ref = encodeRef(context.activity.conversation!.id, sent?.id ?? '');
    });
    return ref;
  }

  async function update(view: RunView, ref: string, activity: Record<string, unknown>) {
    const { activityId } = decodeRef(ref);
    await inConversation(view, async (context) => {
      await context.updateActivity(Activity.fromObject({ ...activity, id: activityId, type: ActivityTypes.Message }));
    });
  }

  const chat: ChatAdapter = {
    platform: 'teams',
    async upsertRunMessage(view) {
      const activity = { type: ActivityTypes.Message, attachments: [runCard(view.run, view.webUrl)] };
      if (view.run.threadRef) {
        await update(view, view.run.threadRef, activity);
        return view.run.threadRef;
      }
      return send(view, activity);
    },
    postStory: (view, ref) => send(view, { type: ActivityTypes.Message, replyToId: decodeRef(ref).activityId, attachments: [storyCard(view.story, view.webUrl, view.run.ref, view.storyExports)] }),
    async upsertApprovalMessage(view, ref, existingRef) {
      const activity = { type: ActivityTypes.Message, attachments: [approvalCard(view.run, view.approvals, view.webUrl)] };
      if (existingRef) {
        await update(view, existingRef, activity);
        return existingRef;
      }
      return send(view, { ...activity, replyToId: decodeRef(ref).activityId });
    },
    postOutcome: (view, ref) =>
      send(view, {
        type: ActivityTypes.Message,
        replyToId: decodeRef(ref).activityId,
        ...(view.actions?.length ? { attachments: [outcomeCard(view.run, view.webUrl, view.actions)] } : { text: outcomeText(view.run) }),
      }),
  };

  return chat;
}
