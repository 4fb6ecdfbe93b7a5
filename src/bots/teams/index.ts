import { Activity, ActivityTypes } from '@microsoft/agents-activity';
import { CloudAdapter, type ConnectorClient, type Request, type TurnContext } from '@microsoft/agents-hosting';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import type { ChatAdapter, PlatformAdapter } from '../../core/chat/adapter.js';
import type { TeamsConfig } from '../../core/config.js';
import { runCommand } from '../../core/commands/run-command.js';
import { authConfiguration, authenticate, recordingResponse, withTokenProvider } from './auth.js';
import { createActionHandler, errorText } from './actions.js';
import { escapeHtml } from './cards.js';
import { createTeamsChat, REF_KEY } from './chat.js';

export { decodeRef, encodeRef, REF_KEY } from './chat.js';

/**
 * Microsoft Teams through the Microsoft 365 Agents SDK's CloudAdapter (every SDK import stays in
 * this folder). With an app id, each incoming activity's JWT is checked (signature against the
 * authority's keys, audience, expiry, issuer) and its serviceurl claim must be the activity's
 * serviceUrl. Replies after the turn are proactive, from the conversation reference stored with
 * the run: Teams retries a turn that takes ~15 s. Private answers go to a 1:1 chat with the person.
 */

export interface TeamsHttpRequest {
  rawBody: string;
  headers: Record<string, string | undefined>;
}
export interface TeamsHttpResponse {
  status: number;
  body: unknown;
}

/** The audience of the bot's tokens towards the Bot Framework connector. */
const CONNECTOR_SCOPE = 'https://api.botframework.com';


export function actorOf(context: TurnContext): Actor {
  const a = context.activity;
  const direct = a.conversation?.conversationType === 'personal';
  // Private answers reach only the person: in a channel or group chat they go to a 1:1 chat.
  return { id: `teams:${a.from?.aadObjectId ?? a.from?.id}`, platform: 'teams', channel: `teams:${(a.conversation?.id ?? '').split(';')[0]}`, direct, privateReplies: true };
}

export function createTeamsAdapter(opts: { config: TeamsConfig; logger: Logger; context: () => CoreContext }) {
  const { config, logger } = opts;
  const auth = config.unauthenticated ? undefined : authConfiguration(config);
  // validateServiceUrl: the SDK's own host check too, beside ours in authenticate().
  const adapter = new CloudAdapter(auth ?? {}, undefined, undefined, { validateServiceUrl: !config.unauthenticated });
  if (auth) adapter.connectionManager = withTokenProvider(adapter.connectionManager, auth);
  if (config.unauthenticated) logger.warn('Teams runs WITHOUT authentication (TEAMS_ALLOW_UNAUTHENTICATED=true): for local testing only');
  // Proactive calls carry the bot's app id as the audience; anonymous ones (local testing) none.
  const botIdentity = config.unauthenticated ? {} : config.appId;
  adapter.onTurnError = async (context, err) => {
    logger.error({ err }, 'Teams turn failed');
    if (context.activity.type === ActivityTypes.Message) await context.sendActivity('AutoDevHub could not handle that; please try again.').catch(() => undefined);
  };

  /**
   * Says it in this conversation when it is a 1:1 chat, else opens (or reuses: Teams gives back
   * the existing one) the 1:1 chat with the person. When Teams will not open it, the channel is
   * told that an answer could not be delivered, never the answer (it may hold a sign-in link).
   */
  async function answerPrivately(context: TurnContext, text: string) {
    const a = context.activity;
    if (a.conversation?.conversationType === 'personal') {
      await context.sendActivity(text);
      return;
    }
    try {
      await inOneToOne(context, text);
    } catch (err) {
      logger.warn({ err }, 'could not open a 1:1 Teams chat for a private answer');
      const who = escapeHtml(a.from?.name ?? 'you');
      await context.sendActivity(`${who}: I have a private answer for you but could not open a 1:1 chat. Add AutoDevHub for yourself (Apps → AutoDevHub → Add) or message it directly, then ask again.`);
    }
  }

  async function inOneToOne(context: TurnContext, text: string) {
    const a = context.activity;
    const tenantId = a.conversation?.tenantId ?? (a.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
    const parameters = {
      isGroup: false,
      agent: a.recipient,
      members: [{ id: a.from!.id, name: a.from?.name }],
      tenantId,
      channelData: { tenant: { id: tenantId } },
    } as never;
    await adapter.createConversationAsync(config.appId, a.channelId!, a.serviceUrl!, CONNECTOR_SCOPE, parameters, async (created) => {
      // Sent straight to the new conversation: the SDK would make it a reply to an activity id
      // it made up for the conversation.
      const client = created.turnState.get<ConnectorClient>(adapter.ConnectorClientKey);
      await client.sendToConversation(created.activity.conversation!.id, Activity.fromObject({ type: ActivityTypes.Message, text, from: a.recipient, recipient: a.from }));
    });
  }

  async function onMessage(context: TurnContext) {
    const a = context.activity;
    a.removeRecipientMention();
    const text = (a.text ?? '').replace(/<[^>]+>/g, '').trim();
    const reference = a.getConversationReference();
    let reply;
    try {
      reply = await runCommand(
        { ctx: opts.context(), actor: actorOf(context) },
        { text, deliveryId: `activity:${a.conversation!.id}:${a.id}`, prefix: '@AutoDevHub', chatRefs: { [REF_KEY]: JSON.stringify(reference) } },
      );
    } catch (err) {
      logger.error({ err }, 'Teams command failed');
      await answerPrivately(context, errorText(err));
      return;
    }
    // A run's card comes from the worker, proactively; a repeated delivery answers nothing. A run
    // stored while the queue is down is said so now: its card comes when the queue is back.
    if (reply.duplicate || (reply.run && reply.queued !== false && reply.run.status === 'queued' && !reply.error)) return;
    if (reply.ephemeral) await answerPrivately(context, escapeHtml(reply.text));
    else await context.sendActivity(escapeHtml(reply.text));
  }

  const onAction = createActionHandler({ context: opts.context, logger, actorOf, refKey: REF_KEY });

  async function onTurn(context: TurnContext) {
    const a = context.activity;
    if (a.type === ActivityTypes.Message && (a.text || !a.value)) return onMessage(context);
    if (a.type === ActivityTypes.Invoke && a.name === 'adaptiveCard/action') {
      const body = await onAction(context);
      await context.sendActivity(Activity.fromObject({ type: ActivityTypes.InvokeResponse, value: { status: 200, body } }));
    }
  }

  async function handle(req: TeamsHttpRequest): Promise<TeamsHttpResponse> {
    let activity: Record<string, unknown>;
    try {
      activity = JSON.parse(req.rawBody) as Record<string, unknown>;
      if (!activity || typeof activity !== 'object' || typeof activity.type !== 'string') throw new Error('not an activity');
      // The SDK's own schema: a body it cannot read would otherwise throw inside the turn (a 500).
      Activity.fromObject(activity);
    } catch {
      return { status: 400, body: { error: 'invalid_body', message: 'the body is not a Bot Framework activity' } };
    }
    let identity: Request['user'] = {};
    if (!config.unauthenticated) {
      const checked = await authenticate((r, s, n) => adapter.authorizeRequest(r, s, n), req.headers, activity);
      if (!checked.ok) {
        logger.warn({ reason: checked.reason }, 'refused a Teams activity (401): its token is missing or not valid');
        return { status: 401, body: { error: 'unauthorized', message: 'the Bot Framework token is missing or not valid' } };
      }
      identity = checked.identity;
    }
    const res = recordingResponse();
    try {
      await adapter.process({ method: 'POST', headers: req.headers, body: activity, user: identity }, res, onTurn);
    } catch (err) {
      logger.error({ err }, 'Teams request failed');
      return { status: 500, body: { error: 'internal', message: 'AutoDevHub could not handle this activity' } };
    }
    if (res.statusCode === 400) return { status: 400, body: { error: 'invalid_activity', message: 'the activity lacks a type, a conversation id or a valid serviceUrl' } };
    return { status: res.statusCode, body: res.body ?? {} };
  }

  const chat = createTeamsChat(adapter, botIdentity);

  const platform: PlatformAdapter & { chat: ChatAdapter } = {
    platform: 'teams',
    route: '/api/messages',
    maxBodyBytes: 1024 * 1024,
    chat,
    async handle(req) {
      const res = await handle(req);
      return { status: res.status, body: res.body as Record<string, unknown> };
    },
  };
  return platform;
}

export type TeamsAdapter = ReturnType<typeof createTeamsAdapter>;
