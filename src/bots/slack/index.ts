import { randomUUID } from 'node:crypto';
import { App, LogLevel, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import { logContext } from '../../core/logger.js';
import type { Actor, CoreContext } from '../../core/context.js';
import { ChatGoneError, ChatRateLimitedError, type ChatAdapter, type PlatformAdapter } from '../../core/chat/adapter.js';
import type { SlackConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import { runCommand, type CommandReply } from '../../core/commands/run-command.js';
import { acceptStory, regenerateStory } from '../../core/stories/service.js';
import { HonoSlackReceiver, type SlashCommandHandler } from './receiver.js';
import { runUrl } from '../../core/chat/presentation.js';
import { ACTION_ACCEPT, ACTION_APPROVE, ACTION_REGENERATE, ACTION_REJECT, approvalMessage, escapeMrkdwn, noticeMessage, outcomeMessage, runMessage, storyMessage } from './cards.js';
import { decideApproval } from '../../core/deploys/service.js';
import { requestPromotion, requestRollbackOfRun } from '../../core/deploys/follow-ups.js';
import { exportStory, storyCard, type ExportKind } from '../../core/exports/service.js';
import { ACTIONS } from '../../core/chat/presentation.js';
import { slackDeliveryId } from './webhook/parse.js';

export interface SlackAdapterOptions {
  config: SlackConfig;
  logger: Logger;
  publicUrl: string;
  /** A fresh core context (own EntityManager fork) per request. */
  context: () => CoreContext;
}

export type SlackAdapter = PlatformAdapter & { chat: ChatAdapter };

/** Slack errors after which nothing this bot sends to the channel will land: the render gives up. */
const GONE = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'account_inactive', 'invalid_auth', 'token_revoked', 'restricted_action']);

/** Thread and message references: slack:<channel>:<ts>. */
export function encodeRef(channel: string, ts: string): string {
  return `slack:${channel}:${ts}`;
}
export function decodeRef(ref: string): { channel: string; ts: string } {
  const [platform, channel, ts] = ref.split(':');
  if (platform !== 'slack' || !channel || !ts) throw new Error(`not a Slack message reference: ${ref}`);
  return { channel, ts };
}

function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'bolt' });
  return {
    debug: (...m) => child.debug(m.join(' ')),
    info: (...m) => child.info(m.join(' ')),
    warn: (...m) => child.warn(m.join(' ')),
    error: (...m) => child.error(m.join(' ')),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}

function errorText(err: unknown, requestId: string): string {
  if (err instanceof AppError) return `:x: ${escapeMrkdwn(err.message)}`;
  return `:x: AutoDevHub could not handle that (request ${requestId}). Nothing was queued; please try again.`;
}

/**
 * A command's answer as Slack text. User text is echoed in answers ("deploy … <!channel>"):
 * escaped, it stays text. Usage goes in a code block, so its columns line up.
 */
export function replyText(reply: CommandReply): string {
  if (reply.usage === undefined) return escapeMrkdwn(reply.text);
  const fence = '```';
  return `${reply.message ? `${escapeMrkdwn(reply.message)}\n` : ''}${fence}\n${escapeMrkdwn(reply.usage)}\n${fence}`;
}

export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const receiver = new HonoSlackReceiver(opts.config.signingSecret, opts.logger, onSlashCommand);
  const client = new webApi.WebClient(opts.config.botToken, {
    slackApiUrl: opts.config.apiUrl,
    logger: boltLogger(opts.logger),
    // Retries belong to the chat job (with backoff), not to a request that holds a worker.
    retryConfig: { retries: 2, minTimeout: 200, maxTimeout: 2000 },
  });
  // Every 429 Slack answers is counted (the client waits as Slack asks and retries).
  client.on(webApi.WebClientEvent.RATE_LIMITED, () => opts.context().metrics?.chatRateLimited('slack'));
  // Chat renders (the chat job) are paced against Slack's limits; a 429 is not waited out while a
  // worker holds it: it ends the render with Retry-After, and the job waits and blocks the channel.
  const renderClient = new webApi.WebClient(opts.config.botToken, {
    slackApiUrl: opts.config.apiUrl,
    logger: boltLogger(opts.logger),
    retryConfig: { retries: 2, minTimeout: 200, maxTimeout: 2000 },
    rejectRateLimitedCalls: true,
  });
  renderClient.on(webApi.WebClientEvent.RATE_LIMITED, () => opts.context().metrics?.chatRateLimited('slack'));
  /** A 429 from chat.postMessage holds back the channel; from chat.update, the workspace's edits. */
  async function paced<T>(scope: 'channel' | 'edits', call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const e = err as { code?: string; retryAfter?: number };
      if (e.code === webApi.ErrorCode.RateLimitedError) throw new ChatRateLimitedError((e.retryAfter ?? 1) * 1000, scope);
      throw err;
    }
  }
  const post = (args: Record<string, unknown>) => paced('channel', () => renderClient.chat.postMessage(args as never));
  const update = (args: Record<string, unknown>) => paced('edits', () => renderClient.chat.update(args as never));
  // Authorisation is local: the one bot token we are configured with. Bolt's default would
  // call auth.test on the first event, and while Slack's API is unreachable every command
  // would wait on it and miss its 3-second acknowledgement. The token is checked once at
  // start instead, in the background, and a bad one is reported.
  const identity: { botToken: string; botId?: string; botUserId?: string } = { botToken: opts.config.botToken };
  const app = new App({
    receiver,
    authorize: async () => identity,
    // No conversation state is kept between events; Bolt's store would cost a lookup on each.
    convoStore: false,
    logger: boltLogger(opts.logger),
    clientOptions: { slackApiUrl: opts.config.apiUrl },
  });
  client.auth
    .test()
    .then((r) => {
      if (r.bot_id) identity.botId = r.bot_id;
      if (r.user_id) identity.botUserId = r.user_id;
      opts.logger.info({ team: r.team, bot: r.user }, 'Slack bot token accepted');
    })
    .catch((err: Error) => opts.logger.error({ err: err.message }, 'Slack rejected SLACK_BOT_TOKEN or is unreachable (auth.test)'));

  async function onSlashCommand(...[command, body, ack]: Parameters<SlashCommandHandler>): Promise<void> {
    // The id the person is shown is the one on every log line of this request.
    const requestId = logContext().requestId ?? randomUUID();
    // Direct messages (D…) are nobody's channel: nothing is linked or deployed from them.
    const actor: Actor = { id: `slack:${command.user_id}`, platform: 'slack', channel: `slack:${command.channel_id}`, direct: command.channel_id.startsWith('D'), privateReplies: true, ...(typeof body.user_name === 'string' && { displayName: body.user_name }) };
    try {
      const reply = await runCommand(
        { ctx: opts.context(), actor },
        { text: command.text, deliveryId: slackDeliveryId(body as never) ?? requestId, prefix: command.command },
      );
      await ack({ response_type: reply.ephemeral ? 'ephemeral' : 'in_channel', text: replyText(reply) });
    } catch (err) {
      opts.logger.error({ err, requestId }, 'slash command failed');
      await ack({ response_type: 'ephemeral', text: errorText(err, requestId) });
    }
  }

  app.event('app_mention', async ({ event, body }) => {
    const text = event.text.replace(/<@[A-Z0-9]+>/g, '').trim();
    const actor: Actor = { id: `slack:${event.user}`, platform: 'slack', channel: `slack:${event.channel}`, direct: event.channel.startsWith('D'), privateReplies: true };
    const reply = await runCommand(
      { ctx: opts.context(), actor },
      { text, deliveryId: slackDeliveryId(body as never) ?? randomUUID(), prefix: '@AutoDevHub' },
    );
    if (reply.duplicate) return;
    const thread_ts = event.thread_ts ?? event.ts;
    // What the slash command would answer privately (whoami's link, refusals, status) is answered
    // privately here too: seen by the person who mentioned, not by the channel.
    if (reply.ephemeral && event.user) await client.chat.postEphemeral({ channel: event.channel, user: event.user, thread_ts, text: replyText(reply) });
    else await client.chat.postMessage({ channel: event.channel, thread_ts, text: replyText(reply) });
  });

  /**
   * A button: acknowledged at once; the actor is the user Slack signed for, never the button's
   * value (which only names a story or run); a refused click is explained privately.
   */
  type Click = { actor: Actor; channel: string | undefined; value: string; messageTs: string | undefined; threadTs: string | undefined; deliveryId: string };
  function onButton(actionId: string, act: (click: Click) => Promise<void>) {
    app.action(actionId, async ({ ack, body, action }) => {
      await ack();
      if (body.type !== 'block_actions' || action.type !== 'button') return;
      const channel = body.channel?.id ?? body.container?.channel_id;
      const message = body.message as { thread_ts?: string; ts?: string } | undefined;
      try {
        await act({
          actor: { id: `slack:${body.user.id}`, platform: 'slack', channel: channel ? `slack:${channel}` : null, direct: Boolean(channel?.startsWith('D')), privateReplies: true },
          channel,
          value: String(action.value),
          messageTs: message?.ts,
          // Slack threads are one level deep: a reply's thread is its parent's.
          threadTs: message?.thread_ts ?? message?.ts,
          deliveryId: slackDeliveryId(body as never) ?? randomUUID(),
        });
      } catch (err) {
        if (channel) await client.chat.postEphemeral({ channel, user: body.user.id, text: errorText(err, randomUUID()) });
        if (!(err instanceof AppError)) throw err;
      }
    });
  }

  /** Redraws a story message in place (after Accept, Create issue, Open PR). */
  async function redrawStory(ctx: CoreContext, storyId: number, channel: string | undefined, messageTs: string | undefined) {
    const card = await storyCard(ctx, storyId);
    if (channel && messageTs) await client.chat.update({ channel, ts: messageTs, ...storyMessage(card.story, runUrl(opts.publicUrl, card.run.ref), card.run.ref, card.extras) } as never);
  }

  onButton(ACTION_ACCEPT, async ({ actor, channel, value, messageTs }) => {
    const ctx = opts.context();
    const story = await acceptStory({ ctx, actor }, Number(value));
    await redrawStory(ctx, story.id, channel, messageTs);
  });

  onButton(ACTION_REGENERATE, async ({ actor, value, threadTs, deliveryId }) => {
    await regenerateStory({ ctx: opts.context(), actor }, Number(value), { deliveryId, ...(threadTs && { threadTs }) });
  });

  onButton(ACTION_APPROVE, ({ actor, value }) => decideApproval({ ctx: opts.context(), actor }, { run: value, decision: 'approve' }).then(() => undefined));
  onButton(ACTION_REJECT, ({ actor, value }) => decideApproval({ ctx: opts.context(), actor }, { run: value, decision: 'reject' }).then(() => undefined));

  /** Tells only the clicker (a second click on a follow-up that is already under way). */
  const whisper = (channel: string | undefined, user: string, text: string) => (channel ? client.chat.postEphemeral({ channel, user: user.replace(/^slack:/, ''), text: escapeMrkdwn(text) }).then(() => undefined) : Promise.resolve());

  onButton(ACTIONS.promote, async ({ actor, channel, value }) => {
    const created = await requestPromotion({ ctx: opts.context(), actor }, { run: value });
    if (created.duplicate) await whisper(channel, actor.id, `${value} is already being promoted to ${created.environment}: ${created.run.ref}.`);
  });
  onButton(ACTIONS.rollback, async ({ actor, channel, value }) => {
    const created = await requestRollbackOfRun({ ctx: opts.context(), actor }, { run: value });
    if (created.duplicate) await whisper(channel, actor.id, `${created.run.input.environment} is already being rolled back: ${created.run.ref}.`);
  });

  /** Create issue / Open PR on a story: once per story version; the link goes to the thread and onto the card. */
  const onExport = (kind: ExportKind) => async ({ actor, channel, value, messageTs, threadTs }: Click) => {
    const ctx = opts.context();
    const done = await exportStory({ ctx, actor }, { storyId: Number(value), kind });
    await redrawStory(ctx, Number(value), channel, messageTs);
    const what = kind === 'issue' ? `Issue ${done.export.externalId ?? ''}` : `Pull request ${done.export.externalId ?? ''}`;
    if (!done.created) return whisper(channel, actor.id, `${what} already exists for this story version: ${done.export.url}`);
    if (channel) await client.chat.postMessage({ channel, ...(threadTs && { thread_ts: threadTs }), text: `:link: ${escapeMrkdwn(what)} created by <@${actor.id.replace(/^slack:/, '')}>: ${done.export.url}` });
  };
  onButton(ACTIONS.createIssue, onExport('issue'));
  onButton(ACTIONS.openPr, onExport('pull_request'));

  app.error(async (err) => {
    opts.logger.error({ err }, 'Slack handler error');
  });

  /**
   * Edits a message in place. Someone deleted it (`message_not_found`): false, and the caller
   * posts a new one instead of editing a message that will never come back. A channel the bot
   * can no longer write to is given up on (ChatGoneError), not retried forever.
   */
  async function edited(channel: string, ts: string, message: object, what: string): Promise<boolean> {
    try {
      await update({ channel, ts, ...message });
      return true;
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'message_not_found') {
        opts.logger.warn({ channel, ts, what }, 'Slack message was deleted: posting a new one');
        return false;
      }
      if (code && GONE.has(code)) throw new ChatGoneError(`Slack refused to edit the ${what} in ${channel}: ${code}`);
      throw err;
    }
  }
  const posting = async <T>(channel: string, what: string, post: () => Promise<T>): Promise<T> => {
    try {
      return await post();
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code && GONE.has(code)) throw new ChatGoneError(`Slack refused to post the ${what} in ${channel}: ${code}`);
      throw err;
    }
  };

  const chat: ChatAdapter = {
    platform: 'slack',
    async upsertRunMessage(view) {
      const { run, webUrl } = view;
      const message = runMessage(run, webUrl);
      if (run.threadRef) {
        const { channel, ts } = decodeRef(run.threadRef);
        if (await edited(channel, ts, message, 'run message')) return run.threadRef;
        // Posted again where it was (its thread, if it was a reply), saying why it is new.
        const threadTs = run.kind === 'story' || run.kind === 'deploy' ? run.input.threadTs : undefined;
        const reposted = { ...message, text: `${message.text} (posted again: the earlier message was deleted)` };
        const posted = await posting(channel, 'run message', () => post({ channel, ...reposted, ...(threadTs && { thread_ts: threadTs }) }));
        return encodeRef(posted.channel ?? channel, posted.ts!);
      }
      const channel = run.channel?.replace(/^slack:/, '');
      if (!channel) throw new Error(`${run.ref} has no Slack channel`);
      // A regenerated story and an automatic rollback answer in the thread they came from.
      const followed = view.followsMessageRef?.startsWith('slack:') ? decodeRef(view.followsMessageRef).ts : undefined;
      const threadTs = (run.kind === 'story' || run.kind === 'deploy' ? run.input.threadTs : undefined) ?? followed;
      const posted = await posting(channel, 'run message', () => post({ channel, ...message, ...(threadTs && { thread_ts: threadTs }) }));
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async postStory(view, runMessageRef) {
      const { run, story, webUrl } = view;
      const { channel, ts } = decodeRef(runMessageRef);
      // Slack threads are one level deep: a run message that is itself a reply shares its parent's thread.
      const threadTs = (run.kind === 'story' && run.input.threadTs) || ts;
      const posted = await post({ channel, thread_ts: threadTs, ...storyMessage(story, webUrl, run.ref, view.storyExports) });
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async upsertApprovalMessage({ run, approvals, webUrl }, runMessageRef, existingRef) {
      const message = approvalMessage(run, approvals, webUrl);
      if (existingRef) {
        const { channel, ts } = decodeRef(existingRef);
        if (await edited(channel, ts, message, 'approval message')) return existingRef;
      }
      const { channel, ts } = decodeRef(runMessageRef);
      const posted = await post({ channel, thread_ts: (run.kind === 'deploy' && run.input.threadTs) || ts, ...message });
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async postNotice({ run, webUrl }, channel) {
      const id = channel.replace(/^slack:/, '');
      const posted = await post({ channel: id, ...noticeMessage(run, webUrl) });
      return encodeRef(posted.channel ?? id, posted.ts!);
    },
    async postOutcome({ run, webUrl, actions }, runMessageRef) {
      const { channel, ts } = decodeRef(runMessageRef);
      const message = run.kind === 'docs' ? noticeMessage(run, webUrl) : outcomeMessage(run, webUrl, actions);
      const posted = await post({ channel, thread_ts: (run.kind === 'deploy' && run.input.threadTs) || ts, ...message });
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
  };

  return {
    platform: 'slack',
    route: '/slack/events',
    // Slack's payloads are small; anything near this is not Slack.
    maxBodyBytes: 1024 * 1024,
    preflight: (headers) =>
      headers['x-slack-signature'] && headers['x-slack-request-timestamp'] ? undefined : { status: 401, body: { error: 'invalid_signature', message: 'missing X-Slack-Signature or X-Slack-Request-Timestamp' } },
    chat,
    // Readiness: Slack's Web API answers (api.test needs no token and spends none of its quota).
    probe: () => client.api.test(),
    async handle(req) {
      const res = await receiver.handle({
        rawBody: req.rawBody,
        contentType: req.headers['content-type'],
        signature: req.headers['x-slack-signature'],
        timestamp: req.headers['x-slack-request-timestamp'],
        retryNum: req.headers['x-slack-retry-num'],
        retryReason: req.headers['x-slack-retry-reason'],
      });
      return { status: res.status, body: res.body, contentType: res.contentType };
    },
  };
}
