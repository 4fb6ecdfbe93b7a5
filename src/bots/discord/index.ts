import { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import type { ChatAdapter, PlatformAdapter, RunView } from '../../core/chat.js';
import type { DiscordConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import { runCommand } from '../../core/services/commands.js';
import { acceptStory, regenerateStory } from '../../core/services/stories.js';
import { decideApproval } from '../../core/services/deploys.js';
import { findRun } from '../../core/services/runs.js';
import { createDiscordVerifier } from './webhook/verify.js';
import { commandText, DiscordBodyError, EPHEMERAL, InteractionType, interactionUser, parseInteraction, ResponseType, type Interaction } from './webhook/parse.js';
import { GRAMMAR_ORDER } from './commands.js';
import { approvalMessage, CUSTOM, outcomeMessage, runMessage, storyMessage } from './cards.js';

export interface DiscordHttpRequest {
  rawBody: string;
  signature: string | undefined;
  timestamp: string | undefined;
}
export interface DiscordHttpResponse {
  status: number;
  body: unknown;
}

/** An interaction token lasts 15 minutes; past 14 the bot token takes over, in the channel. */
const INTERACTION_TTL_MS = 14 * 60_000;
const INTERACTION_REF = 'discord_interaction';

export function encodeRef(channel: string, id: string): string {
  return `discord:${channel}:${id}`;
}
export function decodeRef(ref: string): { channel: string; id: string } {
  const [platform, channel, id] = ref.split(':');
  if (platform !== 'discord' || !channel || !id) throw new Error(`not a Discord message reference: ${ref}`);
  return { channel, id };
}

function ephemeral(content: string): DiscordHttpResponse {
  return { status: 200, body: { type: ResponseType.ChannelMessage, data: { content: content.slice(0, 2000), flags: EPHEMERAL, allowed_mentions: { parse: [] } } } };
}

function errorText(err: unknown): string {
  if (err instanceof AppError && err.status < 500) return `❌ ${err.message}`;
  return '❌ AutoDevHub could not handle that. Nothing was changed; please try again.';
}

export function createDiscordAdapter(opts: { config: DiscordConfig; logger: Logger; publicUrl: string; context: () => CoreContext }) {
  const verifyDiscord = createDiscordVerifier(opts.config.publicKey);
  // discord.js's REST client: honours 429s and retry_after, and its per-route buckets.
  const rest = new REST({ version: '10', api: opts.config.apiUrl, retries: 2, timeout: 10_000 }).setToken(opts.config.botToken);
  const appId = opts.config.applicationId;

  async function onCommand(i: Interaction): Promise<DiscordHttpResponse> {
    const user = interactionUser(i);
    if (!user) return ephemeral('❌ This interaction carries no user.');
    const actor: Actor = { id: `discord:${user}`, platform: 'discord', channel: i.channel_id ? `discord:${i.channel_id}` : null };
    const reply = await runCommand(
      { ctx: opts.context(), actor },
      // The interaction token is stored with a run it starts: the run's message is the deferred answer.
      { text: commandText(i, GRAMMAR_ORDER), deliveryId: `interaction:${i.id}`, prefix: '/autodevhub', chatRefs: { [INTERACTION_REF]: `${i.token}|${Date.now()}` } },
    );
    if (reply.run && !reply.duplicate && ['queued'].includes(reply.run.status)) {
      return { status: 200, body: { type: ResponseType.DeferredChannelMessage } };
    }
    const text = reply.error ? `${reply.text.split('\n\n')[0]}\n\`\`\`\n${reply.text.split('\n\n').slice(1).join('\n\n')}\n\`\`\`` : reply.text;
    if (reply.ephemeral || reply.error) return ephemeral(text);
    return { status: 200, body: { type: ResponseType.ChannelMessage, data: { content: text.slice(0, 2000), allowed_mentions: { parse: [] } } } };
  }

  async function onComponent(i: Interaction): Promise<DiscordHttpResponse> {
    const user = interactionUser(i);
    const [action, value] = (i.data?.custom_id ?? '').split(':');
    if (!user || !value) return ephemeral('❌ Unknown button.');
    // The decider is the user Discord signed for; the custom_id only names the run or story.
    const actor: Actor = { id: `discord:${user}`, platform: 'discord', channel: i.channel_id ? `discord:${i.channel_id}` : null };
    const ctx = opts.context();
    try {
      if (action === CUSTOM.approve || action === CUSTOM.reject) {
        await decideApproval({ ctx, actor }, { run: value, decision: action === CUSTOM.approve ? 'approve' : 'reject' });
        return { status: 200, body: { type: ResponseType.DeferredUpdateMessage } };
      }
      if (action === CUSTOM.accept) {
        const story = await acceptStory({ ctx, actor }, Number(value));
        const run = await findRun(ctx.em, story.runId);
        return { status: 200, body: { type: 7, data: storyMessage(story, `${opts.publicUrl}/runs/${run?.ref ?? ''}`, run?.ref ?? '') } };
      }
      if (action === CUSTOM.regenerate) {
        await regenerateStory({ ctx, actor }, Number(value), { deliveryId: `interaction:${i.id}` });
        return { status: 200, body: { type: ResponseType.DeferredUpdateMessage } };
      }
      return ephemeral('❌ Unknown button.');
    } catch (err) {
      if (!(err instanceof AppError)) opts.logger.error({ err }, 'Discord component failed');
      return ephemeral(errorText(err));
    }
  }

  async function handle(req: DiscordHttpRequest): Promise<DiscordHttpResponse> {
    const verified = verifyDiscord({ signature: req.signature, timestamp: req.timestamp }, req.rawBody);
    if (!verified.ok) return { status: 401, body: { error: 'invalid_signature', message: verified.reason } };
    let i: Interaction;
    try {
      i = parseInteraction(req.rawBody);
    } catch (err) {
      if (err instanceof DiscordBodyError) return { status: 400, body: { error: 'invalid_body', message: err.message } };
      throw err;
    }
    if (i.type === InteractionType.Ping) return { status: 200, body: { type: ResponseType.Pong } };
    try {
      if (i.type === InteractionType.ApplicationCommand) return await onCommand(i);
      if (i.type === InteractionType.MessageComponent) return await onComponent(i);
    } catch (err) {
      opts.logger.error({ err }, 'Discord interaction failed');
      return ephemeral(errorText(err));
    }
    return { status: 400, body: { error: 'unsupported_interaction', message: `interaction type ${i.type} is not handled` } };
  }

  /** The interaction token, while it is still good for editing the deferred answer. */
  function interaction(view: RunView): string | undefined {
    const [token, at] = (view.refs?.[INTERACTION_REF] ?? '').split('|');
    return token && Date.now() - Number(at) < INTERACTION_TTL_MS ? token : undefined;
  }

  async function edit(view: RunView, messageId: string, channel: string, body: unknown) {
    const token = interaction(view);
    if (token) await rest.patch(Routes.webhookMessage(appId, token, messageId), { body, auth: false });
    else await rest.patch(Routes.channelMessage(channel, messageId), { body });
  }

  async function followUp(view: RunView, runMessageRef: string, body: Record<string, unknown>): Promise<string> {
    const { channel, id } = decodeRef(runMessageRef);
    const token = interaction(view);
    const posted = (token
      ? await rest.post(Routes.webhook(appId, token), { body, auth: false, query: new URLSearchParams({ wait: 'true' }) })
      : await rest.post(Routes.channelMessages(channel), { body: { ...body, message_reference: { message_id: id, fail_if_not_exists: false } } })) as { id: string; channel_id: string };
    return encodeRef(posted.channel_id ?? channel, posted.id);
  }

  const chat: ChatAdapter = {
    platform: 'discord',
    async upsertRunMessage(view) {
      const body = runMessage(view.run, view.webUrl);
      if (view.run.threadRef) {
        const { channel, id } = decodeRef(view.run.threadRef);
        await edit(view, id, channel, body);
        return view.run.threadRef;
      }
      const token = interaction(view);
      const channel = view.run.channel?.replace(/^discord:/, '');
      const posted = (token
        ? await rest.patch(Routes.webhookMessage(appId, token, '@original'), { body, auth: false })
        : await rest.post(Routes.channelMessages(channel ?? ''), { body })) as { id: string; channel_id: string };
      return encodeRef(posted.channel_id ?? channel, posted.id);
    },
    postStory: (view, ref) => followUp(view, ref, storyMessage(view.story, view.webUrl, view.run.ref)),
    async upsertApprovalMessage(view, runMessageRef, existingRef) {
      const body = approvalMessage(view.run, view.approvals, view.webUrl);
      if (existingRef) {
        const { channel, id } = decodeRef(existingRef);
        await edit(view, id, channel, body);
        return existingRef;
      }
      return followUp(view, runMessageRef, body);
    },
    postOutcome: (view, ref) => followUp(view, ref, outcomeMessage(view.run, view.webUrl)),
    async postNotice(view, channel) {
      const id = channel.replace(/^discord:/, '');
      const posted = (await rest.post(Routes.channelMessages(id), { body: outcomeMessage(view.run, view.webUrl) })) as { id: string; channel_id: string };
      return encodeRef(posted.channel_id ?? id, posted.id);
    },
  };

  const platform: PlatformAdapter & { chat: ChatAdapter; rest: REST } = {
    platform: 'discord',
    route: '/discord/interactions',
    maxBodyBytes: 1024 * 1024,
    chat,
    rest,
    async handle(req) {
      const res = await handle({ rawBody: req.rawBody, signature: req.headers['x-signature-ed25519'], timestamp: req.headers['x-signature-timestamp'] });
      return { status: res.status, body: res.body as Record<string, unknown> };
    },
    close() {
      rest.clearHashSweeper();
      rest.clearHandlerSweeper();
    },
  };
  return platform;
}

export type DiscordAdapter = ReturnType<typeof createDiscordAdapter>;
