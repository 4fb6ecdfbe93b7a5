import {
  ActivityTypes,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  TurnContext,
  type Activity,
  type ConversationReference,
  type InvokeResponse,
} from 'botbuilder';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import type { ChatAdapter, PlatformAdapter, RunView } from '../../core/chat/adapter.js';
import type { TeamsConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import { runCommand } from '../../core/commands/run-command.js';
import { acceptStory, regenerateStory } from '../../core/stories/service.js';
import { decideApproval } from '../../core/deploys/service.js';
import { requestPromotion, requestRollbackOfRun } from '../../core/deploys/follow-ups.js';
import { exportStory, storyCard as storyCardData } from '../../core/exports/service.js';
import { approvalCard, escapeHtml, outcomeCard, outcomeText, runCard, storyCard, VERBS } from './cards.js';

/**
 * Microsoft Teams through botbuilder's CloudAdapter (every botbuilder import stays in this
 * folder: the SDK is archived, and moving to its successor should touch nothing else). With an
 * app id, CloudAdapter validates each incoming JWT (issuer, audience, expiry, signing keys and
 * their endorsements, the serviceUrl claim). Replies after the turn are proactive, from the
 * conversation reference stored with the run: Teams retries a turn that takes ~15 s.
 */

export interface TeamsHttpRequest {
  rawBody: string;
  headers: Record<string, string | undefined>;
}
export interface TeamsHttpResponse {
  status: number;
  body: unknown;
}

const REF_KEY = 'teams_ref';

type AuthenticateRequestResult = Awaited<ReturnType<ConfigurationBotFrameworkAuthentication['authenticateRequest']>>;

/**
 * CloudAdapter with its authenticated entry point opened: the route authenticates first (any
 * failure is a 401; CloudAdapter.process would answer 500 for token errors that are not its own
 * AuthenticationError) and gets invoke responses back directly, with no req/res emulation.
 */
class AutoDevHubCloudAdapter extends CloudAdapter {
  constructor(readonly auth: ConfigurationBotFrameworkAuthentication) {
    super(auth);
  }
  run(auth: AuthenticateRequestResult, activity: Activity, logic: (context: TurnContext) => Promise<void>): Promise<InvokeResponse | undefined> {
    return this.processActivity(auth, activity, logic);
  }
}

/** The Bot Framework public cloud's endpoints (botframework-connector's AuthenticationConstants). */
const PUBLIC_CLOUD = {
  ToChannelFromBotOAuthScope: 'https://api.botframework.com',
  ToBotFromChannelTokenIssuer: 'https://api.botframework.com',
  OAuthUrl: 'https://api.botframework.com',
  ToBotFromChannelOpenIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  ToBotFromEmulatorOpenIdMetadataUrl: 'https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration',
  CallerId: 'urn:botframework:azure',
  ValidateAuthority: true,
};

export function encodeRef(conversationId: string, activityId: string): string {
  return `teams:${conversationId}:${activityId}`;
}
export function decodeRef(ref: string): { conversationId: string; activityId: string } {
  const i = ref.lastIndexOf(':');
  return { conversationId: ref.slice('teams:'.length, i), activityId: ref.slice(i + 1) };
}

function errorText(err: unknown): string {
  if (err instanceof AppError) return escapeHtml(err.message);
  return 'AutoDevHub could not handle that. Nothing was changed; please try again.';
}

export function createTeamsAdapter(opts: { config: TeamsConfig; logger: Logger; context: () => CoreContext }) {
  const { config } = opts;
  // An empty app id is botbuilder's own "authentication disabled" configuration.
  const adapter = config.unauthenticated
    ? new AutoDevHubCloudAdapter(new ConfigurationBotFrameworkAuthentication({ MicrosoftAppId: '', MicrosoftAppPassword: '' } as never))
    : new AutoDevHubCloudAdapter(
        new ConfigurationBotFrameworkAuthentication({
          MicrosoftAppId: config.appId,
          MicrosoftAppPassword: config.appPassword,
          MicrosoftAppType: config.appType,
          MicrosoftAppTenantId: config.tenantId,
          // botbuilder takes all endpoints as given once any one is overridden, so the public
          // cloud's values are spelled out and overrides (sovereign clouds, tests) go on top.
          ...PUBLIC_CLOUD,
          ToChannelFromBotLoginUrl: config.loginUrl ?? `https://login.microsoftonline.com/${config.appType === 'SingleTenant' && config.tenantId ? config.tenantId : 'botframework.com'}`,
          ...(config.openIdMetadataUrl && { ToBotFromChannelOpenIdMetadataUrl: config.openIdMetadataUrl }),
          ...(config.tokenIssuer && { ToBotFromChannelTokenIssuer: config.tokenIssuer }),
        } as never),
      );
  if (config.unauthenticated) opts.logger.warn('Teams runs WITHOUT authentication (TEAMS_ALLOW_UNAUTHENTICATED=true): for local testing only');
  adapter.onTurnError = async (context, err) => {
    opts.logger.error({ err }, 'Teams turn failed');
    if (context.activity.type === ActivityTypes.Message) await context.sendActivity('AutoDevHub could not handle that; please try again.').catch(() => undefined);
  };

  const actorOf = (context: TurnContext): Actor => {
    const a = context.activity;
    const direct = a.conversation.conversationType === 'personal';
    // A bot's reply in a channel or group chat is seen by everyone there: private only 1:1.
    return { id: `teams:${a.from.aadObjectId ?? a.from.id}`, platform: 'teams', channel: `teams:${a.conversation.id.split(';')[0]}`, direct, privateReplies: direct };
  };

  async function onMessage(context: TurnContext) {
    const a = context.activity;
    const text = (TurnContext.removeRecipientMention(a) ?? a.text ?? '').replace(/<[^>]+>/g, '').trim();
    const reference = TurnContext.getConversationReference(a);
    let reply;
    try {
      reply = await runCommand(
        { ctx: opts.context(), actor: actorOf(context) },
        { text, deliveryId: `activity:${a.conversation.id}:${a.id}`, prefix: '@AutoDevHub', chatRefs: { [REF_KEY]: JSON.stringify(reference) } },
      );
    } catch (err) {
      opts.logger.error({ err }, 'Teams command failed');
      await context.sendActivity(errorText(err));
      return;
    }
    // A run's card comes from the worker, proactively; a repeated delivery answers nothing. A run
    // stored while the queue is down is said so now: its card comes when the queue is back.
    if (reply.duplicate || (reply.run && reply.queued !== false && reply.run.status === 'queued' && !reply.error)) return;
    await context.sendActivity(escapeHtml(reply.text));
  }

  async function onAction(context: TurnContext) {
    const action = (context.activity.value as { action?: { verb?: string; data?: Record<string, unknown> } } | undefined)?.action;
    const actor = actorOf(context);
    const ctx = opts.context();
    let body: Record<string, unknown>;
    try {
      if (action?.verb === VERBS.approve || action?.verb === VERBS.reject) {
        const { outcome } = await decideApproval({ ctx, actor }, { run: String(action.data?.run), decision: action.verb === VERBS.approve ? 'approve' : 'reject' });
        body = { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: outcome === 'recorded' ? 'Your decision is recorded.' : `Done: ${outcome}.` };
      } else if (action?.verb === VERBS.accept) {
        const story = await acceptStory({ ctx, actor }, Number(action.data?.story));
        const data = await storyCardData(ctx, story.id);
        body = { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: storyCard(data.story, '', '', data.extras).content };
      } else if (action?.verb === VERBS.promote || action?.verb === VERBS.rollback) {
        // The follow-up run answers in this conversation, proactively, like a typed command.
        const chatRefs = { [REF_KEY]: JSON.stringify(TurnContext.getConversationReference(context.activity)) };
        const input = { run: String(action.data?.run), chatRefs };
        const created = action.verb === VERBS.promote ? await requestPromotion({ ctx, actor }, input) : await requestRollbackOfRun({ ctx, actor }, input);
        body = { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: created.duplicate ? `Already under way: ${created.run.ref}.` : `Queued ${created.run.ref}: ${escapeHtml(created.run.input.description)}` };
      } else if (action?.verb === VERBS.createIssue || action?.verb === VERBS.openPr) {
        const done = await exportStory({ ctx, actor }, { storyId: Number(action.data?.story), kind: action.verb === VERBS.createIssue ? 'issue' : 'pull_request' });
        const data = await storyCardData(ctx, Number(action.data?.story));
        body = done.created
          ? { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: storyCard(data.story, '', data.run.ref, data.extras).content }
          : { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: `Already there for this story version: ${done.export.url}` };
      } else if (action?.verb === VERBS.regenerate) {
        await regenerateStory({ ctx, actor }, Number(action.data?.story), { deliveryId: `activity:${context.activity.conversation.id}:${context.activity.id}` });
        body = { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: 'A new version is on its way.' };
      } else {
        body = { statusCode: 400, type: 'application/vnd.microsoft.error', value: { code: 'BadRequest', message: 'Unknown action' } };
      }
    } catch (err) {
      if (!(err instanceof AppError)) opts.logger.error({ err }, 'Teams action failed');
      // Shown to the person who clicked, and no one else.
      body = { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: errorText(err) };
    }
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body } });
  }

  async function onTurn(context: TurnContext) {
    const a = context.activity;
    if (a.type === ActivityTypes.Message && (a.text || !a.value)) return onMessage(context);
    if (a.type === ActivityTypes.Invoke && a.name === 'adaptiveCard/action') return onAction(context);
  }

  async function handle(req: TeamsHttpRequest): Promise<TeamsHttpResponse> {
    let activity: Activity;
    try {
      activity = JSON.parse(req.rawBody) as Activity;
      if (!activity || typeof activity !== 'object' || typeof activity.type !== 'string') throw new Error('not an activity');
    } catch {
      return { status: 400, body: { error: 'invalid_body', message: 'the body is not a Bot Framework activity' } };
    }
    let auth: AuthenticateRequestResult;
    try {
      // Issuer, audience, expiry, signing keys and their endorsement for the channel, and the
      // serviceUrl claim against the activity's serviceUrl: all botbuilder's checks.
      auth = await adapter.auth.authenticateRequest(activity, req.headers.authorization ?? '');
    } catch (err) {
      opts.logger.warn({ reason: (err as Error).message }, 'refused a Teams activity');
      return { status: 401, body: { error: 'unauthorized', message: 'the Bot Framework token is missing or not valid' } };
    }
    try {
      const invoke = await adapter.run(auth, activity, onTurn);
      return invoke ? { status: invoke.status, body: invoke.body ?? {} } : { status: 200, body: {} };
    } catch (err) {
      opts.logger.error({ err }, 'Teams request failed');
      return { status: 500, body: { error: 'internal' } };
    }
  }

  async function inConversation(view: RunView, fn: (context: TurnContext) => Promise<void>) {
    const raw = view.refs?.[REF_KEY];
    if (!raw) throw new Error(`${view.run.ref} has no Teams conversation reference`);
    await adapter.continueConversationAsync(config.appId, JSON.parse(raw) as Partial<ConversationReference>, fn);
  }

  async function send(view: RunView, activity: Record<string, unknown>): Promise<string> {
    let ref = '';
    await inConversation(view, async (context) => {
      const sent = await context.sendActivity(activity);
      ref = encodeRef(context.activity.conversation.id, sent?.id ?? '');
    });
    return ref;
  }

  async function update(view: RunView, ref: string, activity: Record<string, unknown>) {
    const { activityId } = decodeRef(ref);
    await inConversation(view, async (context) => {
      await context.updateActivity({ ...activity, id: activityId, type: ActivityTypes.Message });
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
