import { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import type { Logger } from 'pino';
import type { Actor, CoreContext } from '../../core/context.js';
import type { ChatAdapter, PlatformAdapter, RunView } from '../../core/chat/adapter.js';
import type { DiscordConfig } from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import { runCommand } from '../../core/commands/run-command.js';
import { acceptStory, regenerateStory } from '../../core/stories/service.js';
import { decideApproval } from '../../core/deploys/service.js';
import { requestPromotion, requestRollbackOfRun } from '../../core/deploys/follow-ups.js';
import { exportStory, storyCard } from '../../core/exports/service.js';
import { findRunById } from '../../core/runs/queries.js';
import { createDiscordVerifier } from './webhook/verify.js';
import { commandText, DiscordBodyError, EPHEMERAL, InteractionType, interactionUser, parseInteraction, ResponseType, type Interaction } from './webhook/parse.js';
import { GRAMMAR_ORDER } from './commands.js';
import { approvalMessage, CUSTOM, escapeMarkdown, outcomeMessage, quiet, runMessage, storyMessage } from './cards.js';
import { runUrl } from '../../core/chat/presentation.js';

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
  return { status: 200, body: { type: ResponseType.ChannelMessage, data: { content: content.slice(0, 2000), flags: EPHEMERAL, ...quiet } } };
}

function errorText(err: unknown): string {
  if (err instanceof AppError) return `❌ ${err.message}`;
  return '❌ AutoDevHub could not handle that. Nothing was changed; please try again.';
}

export function createDiscordAdapter(opts: { config: DiscordConfig; logger: Logger; publicUrl: string; context: () => CoreContext }) {
  const verifyDiscord = createDiscordVerifier(opts.config.publicKey);
  // discord.js's REST client: honours 429s and retry_after, and its per-route buckets.
  const rest = new REST({ version: '10', api: opts.config.apiUrl, retries: 2, timeout: 10_000 }).setToken(opts.config.botToken);
  const appId = opts.config.applicationId;
  // Every 429 Discord answers, including the ones discord.js waits out and retries, is counted.
  rest.on('response', (_request, response) => {
    if (response.status === 429) opts.context().metrics?.chatRateLimited('discord');
  });

  async function onCommand(i: Interaction): Promise<DiscordHttpResponse> {
    const user = interactionUser(i);
    if (!user) return ephemeral('❌ This interaction carries no user.');
    // No guild: a direct message, which is nobody's channel.
    const actor: Actor = { id: `discord:${user}`, platform: 'discord', channel: i.channel_id ? `discord:${i.channel_id}` : null, direct: !i.guild_id, privateReplies: true };
    const reply = await runCommand(
      { ctx: opts.context(), actor },
      // The interaction token is stored with a run it starts: the run's message is the deferred answer.
      { text: commandText(i, GRAMMAR_ORDER), deliveryId: `interaction:${i.id}`, prefix: '/autodevhub', chatRefs: { [INTERACTION_REF]: `${i.token}|${Date.now()}` } },
    );
    if (reply.run && !reply.duplicate && reply.queued !== false && reply.run.status === 'queued') {
      return { status: 200, body: { type: ResponseType.DeferredChannelMessage } };
    }
    // Usage goes in a code block (its columns line up); anything else may echo user text: escaped.
    const fence = '```';
    const text =
      reply.usage !== undefined
        ? `${reply.message ? `${escapeMarkdown(reply.message)}\n` : ''}${fence}\n${reply.usage.replace(/```/g, "'''")}\n${fence}`
        : escapeMarkdown(reply.text);
    if (reply.ephemeral || reply.error) return ephemeral(text);
    return { status: 200, body: { type: ResponseType.ChannelMessage, data: { content: text.slice(0, 2000), ...quiet } } };
  }

  async function onComponent(i: Interaction): Promise<DiscordHttpResponse> {
    const user = interactionUser(i);
    const [action, value] = (i.data?.custom_id ?? '').split(':');
    if (!user || !value) return ephemeral('❌ Unknown button.');
    // The decider is the user Discord signed for; the custom_id only names the run or story.
    const actor: Actor = { id: `discord:${user}`, platform: 'discord', channel: i.channel_id ? `discord:${i.channel_id}` : null, direct: !i.guild_id, privateReplies: true };
    const ctx = opts.context();
    try {
      if (action === CUSTOM.approve || action === CUSTOM.reject) {
        await decideApproval({ ctx, actor }, { run: value, decision: action === CUSTOM.approve ? 'approve' : 'reject' });
        return { status: 200, body: { type: ResponseType.DeferredUpdateMessage } };
      }
      if (action === CUSTOM.accept) {
        const story = await acceptStory({ ctx, actor }, Number(value));
        const card = await storyCard(ctx, story.id);
        return { status: 200, body: { type: 7, data: storyMessage(card.story, runUrl(opts.publicUrl, card.run.ref), card.run.ref, card.extras) } };
      }
      if (action === CUSTOM.promote || action === CUSTOM.rollback) {
        const created = action === CUSTOM.promote ? await requestPromotion({ ctx, actor }, { run: value }) : await requestRollbackOfRun({ ctx, actor }, { run: value });
        if (created.duplicate) return ephemeral(`${created.run.ref} is already under way for this (${created.run.input.description}).`);
        return ephemeral(`Queued ${created.run.ref}: ${escapeMarkdown(created.run.input.description)}`);
      }
      if (action === CUSTOM.createIssue || action === CUSTOM.openPr) {
        // A tracker or GitHub may take longer than Discord's 3 seconds: acknowledge now, then edit
        // the card through the interaction token (valid 15 minutes) and tell the clicker.
        void exportThenEdit(ctx, actor, i, Number(value), action === CUSTOM.createIssue ? 'issue' : 'pull_request');
        return { status: 200, body: { type: ResponseType.DeferredUpdateMessage } };
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

  /** Once per story version: the card is redrawn with the link; a second click or a refusal is told privately. */
  async function exportThenEdit(ctx: CoreContext, actor: Actor, i: Interaction, storyId: number, kind: 'issue' | 'pull_request') {
    const whisper = (content: string) => rest.post(Routes.webhook(appId, i.token), { body: { content: content.slice(0, 2000), flags: EPHEMERAL, ...quiet }, auth: false });
    try {
      const done = await exportStory({ ctx, actor }, { storyId, kind });
      const card = await storyCard(ctx, storyId);
      await rest.patch(Routes.webhookMessage(appId, i.token, '@original'), { body: storyMessage(card.story, runUrl(opts.publicUrl, card.run.ref), card.run.ref, card.extras), auth: false });
      await whisper(done.created ? `Created: ${done.export.url}` : `Already there for this story version: ${done.export.url}`);
    } catch (err) {
      if (!(err instanceof AppError)) opts.logger.error({ err }, 'Discord export failed');
      await whisper(errorText(err)).catch((e: unknown) => opts.logger.warn({ err: e }, 'could not tell the clicker'));
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
    postStory: (view, ref) => followUp(view, ref, storyMessage(view.story, view.webUrl, view.run.ref, view.storyExports)),
    async upsertApprovalMessage(view, runMessageRef, existingRef) {
      const body = approvalMessage(view.run, view.approvals, view.webUrl);
      if (existingRef) {
        const { channel, id } = decodeRef(existingRef);
        await edit(view, id, channel, body);
        return existingRef;
      }
      return followUp(view, runMessageRef, body);
    },
    postOutcome: (view, ref) => followUp(view, ref, outcomeMessage(view.run, view.webUrl, view.actions)),
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
    preflight: (headers) =>
      headers['x-signature-ed25519'] && headers['x-signature-timestamp'] ? undefined : { status: 401, body: { error: 'invalid_signature', message: 'missing X-Signature-Ed25519 or X-Signature-Timestamp' } },
    chat,
    rest,
    async handle(req) {
      const res = await handle({ rawBody: req.rawBody, signature: req.headers['x-signature-ed25519'], timestamp: req.headers['x-signature-timestamp'] });
      return { status: res.status, body: res.body as Record<string, unknown> };
    },
    probe: (signal: AbortSignal) => rest.get(Routes.gateway(), { auth: false, signal }),
    close() {
      rest.clearHashSweeper();
      rest.clearHandlerSweeper();
    },
  };
  return platform;
}

export type DiscordAdapter = ReturnType<typeof createDiscordAdapter>;
