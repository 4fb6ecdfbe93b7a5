import { randomUUID } from 'node:crypto';
import { App, LogLevel, webApi, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import type { ChatAdapter, PlatformAdapter } from '../../core/chat.js';
import type { SlackConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import { runCommand } from '../../core/services/commands.js';
import { acceptStory, regenerateStory } from '../../core/services/stories.js';
import { findRun } from '../../core/services/runs.js';
import { HonoSlackReceiver } from './receiver.js';
import { ACTION_ACCEPT, ACTION_APPROVE, ACTION_REGENERATE, ACTION_REJECT, approvalMessage, noticeMessage, outcomeMessage, runMessage, storyMessage } from './cards.js';
import { decideApproval } from '../../core/services/deploys.js';
import { slackDeliveryId } from './webhook/parse.js';

export interface SlackAdapterOptions {
  config: SlackConfig;
  logger: Logger;
  publicUrl: string;
  /** A fresh core context (own EntityManager fork) per request. */
  context: () => CoreContext;
}

export type SlackAdapter = PlatformAdapter & { chat: ChatAdapter };

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
  if (err instanceof AppError && err.status < 500) return `:x: ${err.message}`;
  return `:x: AutoDevHub could not handle that (request ${requestId}). Nothing was queued; please try again.`;
}

export function createSlackAdapter(opts: SlackAdapterOptions): SlackAdapter {
  const receiver = new HonoSlackReceiver(opts.config.signingSecret, opts.logger);
  const client = new webApi.WebClient(opts.config.botToken, {
    slackApiUrl: opts.config.apiUrl,
    logger: boltLogger(opts.logger),
    // Retries belong to the chat job (with backoff), not to a request that holds a worker.
    retryConfig: { retries: 2, minTimeout: 200, maxTimeout: 2000 },
  });
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

  app.command(/^\/autodevhub/, async ({ command, ack }) => {
    const requestId = randomUUID();
    const actor: Actor = { id: `slack:${command.user_id}`, platform: 'slack', channel: `slack:${command.channel_id}` };
    try {
      const reply = await runCommand(
        { ctx: opts.context(), actor },
        { text: command.text, deliveryId: slackDeliveryId(command as never) ?? requestId, prefix: command.command },
      );
      await ack({ response_type: reply.ephemeral ? 'ephemeral' : 'in_channel', text: reply.text });
    } catch (err) {
      opts.logger.error({ err, requestId }, 'slash command failed');
      await ack({ response_type: 'ephemeral', text: errorText(err, requestId) });
    }
  });

  app.event('app_mention', async ({ event, body }) => {
    const text = event.text.replace(/<@[A-Z0-9]+>/g, '').trim();
    const actor: Actor = { id: `slack:${event.user}`, platform: 'slack', channel: `slack:${event.channel}` };
    const reply = await runCommand(
      { ctx: opts.context(), actor },
      { text, deliveryId: slackDeliveryId(body as never) ?? randomUUID(), prefix: '@AutoDevHub' },
    );
    if (reply.duplicate) return;
    await client.chat.postMessage({ channel: event.channel, thread_ts: event.thread_ts ?? event.ts, text: reply.text });
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
          actor: { id: `slack:${body.user.id}`, platform: 'slack', channel: channel ? `slack:${channel}` : null },
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

  onButton(ACTION_ACCEPT, async ({ actor, channel, value, messageTs }) => {
    const ctx = opts.context();
    const story = await acceptStory({ ctx, actor }, Number(value));
    const run = await findRun(ctx.em, story.runId);
    if (channel && messageTs && run) {
      await client.chat.update({ channel, ts: messageTs, ...storyMessage(story, `${opts.publicUrl}/runs/${run.ref}`, run.ref) } as never);
    }
  });

  onButton(ACTION_REGENERATE, async ({ actor, value, threadTs, deliveryId }) => {
    await regenerateStory({ ctx: opts.context(), actor }, Number(value), { deliveryId, ...(threadTs && { threadTs }) });
  });

  onButton(ACTION_APPROVE, ({ actor, value }) => decideApproval({ ctx: opts.context(), actor }, { run: value, decision: 'approve' }).then(() => undefined));
  onButton(ACTION_REJECT, ({ actor, value }) => decideApproval({ ctx: opts.context(), actor }, { run: value, decision: 'reject' }).then(() => undefined));

  app.error(async (err) => {
    opts.logger.error({ err }, 'Slack handler error');
  });

  const chat: ChatAdapter = {
    platform: 'slack',
    async upsertRunMessage({ run, webUrl }) {
      const message = runMessage(run, webUrl);
      if (run.threadRef) {
        const { channel, ts } = decodeRef(run.threadRef);
        await client.chat.update({ channel, ts, ...message } as never);
        return run.threadRef;
      }
      const channel = run.channel?.replace(/^slack:/, '');
      if (!channel) throw new Error(`${run.ref} has no Slack channel`);
      const threadTs = typeof run.input.threadTs === 'string' ? run.input.threadTs : undefined;
      const posted = await client.chat.postMessage({ channel, ...message, ...(threadTs && { thread_ts: threadTs }) } as never);
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async postStory({ run, story, webUrl }, runMessageRef) {
      const { channel, ts } = decodeRef(runMessageRef);
      // Slack threads are one level deep: a run message that is itself a reply shares its parent's thread.
      const threadTs = typeof run.input.threadTs === 'string' ? run.input.threadTs : ts;
      const posted = await client.chat.postMessage({ channel, thread_ts: threadTs, ...storyMessage(story, webUrl, run.ref) } as never);
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async upsertApprovalMessage({ run, approvals, webUrl }, runMessageRef, existingRef) {
      const message = approvalMessage(run, approvals, webUrl);
      if (existingRef) {
        const { channel, ts } = decodeRef(existingRef);
        await client.chat.update({ channel, ts, ...message } as never);
        return existingRef;
      }
      const { channel, ts } = decodeRef(runMessageRef);
      const posted = await client.chat.postMessage({ channel, thread_ts: ts, ...message } as never);
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
    async postNotice({ run, webUrl }, channel) {
      const id = channel.replace(/^slack:/, '');
      const posted = await client.chat.postMessage({ channel: id, ...noticeMessage(run, webUrl) } as never);
      return encodeRef(posted.channel ?? id, posted.ts!);
    },
    async postOutcome({ run, webUrl }, runMessageRef) {
      const { channel, ts } = decodeRef(runMessageRef);
      const message = run.kind === 'docs' ? noticeMessage(run, webUrl) : outcomeMessage(run, webUrl);
      const posted = await client.chat.postMessage({ channel, thread_ts: ts, ...message } as never);
      return encodeRef(posted.channel ?? channel, posted.ts!);
    },
  };

  return {
    platform: 'slack',
    route: '/slack/events',
    // Slack's payloads are small; anything near this is not Slack.
    maxBodyBytes: 1024 * 1024,
    chat,
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
