import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChatAdapter, RunView } from '../../core/chat.js';
import type { ApprovalState } from '../../core/services/deploys.js';
import { chatSeq, getRun, markChatRendered, setThreadRef } from '../../core/services/runs.js';
import { findStoryByRun } from '../../core/services/stories.js';
import { QUEUE_NAMES, type ChatRenderJob } from '../queues.js';

export interface ChatWorkerOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  adapters: Map<string, ChatAdapter>;
  em: () => EntityManager;
  publicUrl: string;
  logger: Logger;
}

class ChatBusyError extends Error {
  override name = 'ChatBusyError';
}

const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Brings a run's chat message up to date. Renders of one run are serialised by a Redis lock and
 * always show the latest state, so a render for an old seq that finds a newer one already shown
 * does nothing: chat edits never go backwards, and bursts of events cost one or two API calls.
 */
export async function renderRunInChat(opts: ChatWorkerOptions, job: Pick<Job<ChatRenderJob>, 'data'>): Promise<string> {
  const { runId, seq } = job.data;
  const em = opts.em();
  if ((await chatSeq(em, runId)) >= seq) return 'up to date';
  const lockKey = `${opts.prefix}:lock:chat-run:${runId}`;
  const token = randomUUID();
  if (!(await opts.connection.set(lockKey, token, 'PX', 30_000, 'NX'))) throw new ChatBusyError(`run ${runId} is being rendered`);
  try {
    const run = await getRun(em, runId);
    if ((await chatSeq(em, runId)) >= run.lastSeq) return 'up to date';
    const adapter = opts.adapters.get(run.sourcePlatform);
    const webUrl = `${opts.publicUrl}/runs/${run.ref}`;
    if (run.kind === 'docs' && run.status === 'succeeded') await announceInLinkedChannels(em, opts, { run, webUrl });
    if (!adapter) {
      await markChatRendered(em, runId, run.lastSeq);
      return 'no chat';
    }
    const story = run.status === 'succeeded' ? await findStoryByRun({ em }, runId) : undefined;
    const view = { run, story, webUrl, refs: await chatRefs(em, runId) };
    const ref = await adapter.upsertRunMessage(view);
    if (ref !== run.threadRef) await setThreadRef(em, runId, ref);
    if (story) {
      const rows: Array<{ ref: string | null }> = await em
        .getConnection()
        .execute(`select metadata->>'messageRef' as ref from user_stories where id = ?`, [story.id]);
      if (!rows[0]?.ref) {
        const storyRef = await adapter.postStory({ ...view, story }, ref);
        await em
          .getConnection()
          .execute(`update user_stories set metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('messageRef', ?::text) where id = ?`, [storyRef, story.id]);
      }
    }
    if (run.kind === 'deploy' || run.kind === 'docs') await renderDeployExtras(em, adapter, view, ref);
    await markChatRendered(em, runId, run.lastSeq);
    return 'rendered';
  } finally {
    await opts.connection.eval(RELEASE, 1, lockKey, token);
  }
}

async function chatRefs(em: EntityManager, runId: number): Promise<Record<string, string>> {
  const rows: Array<{ chat_refs: Record<string, string> | string | null }> = await em.getConnection().execute(`select chat_refs from workflow_runs where id = ?`, [runId]);
  const raw = rows[0]?.chat_refs;
  return typeof raw === 'string' ? (JSON.parse(raw) as Record<string, string>) : (raw ?? {});
}

async function saveChatRef(em: EntityManager, runId: number, key: string, ref: string) {
  await em.getConnection().execute(`update workflow_runs set chat_refs = chat_refs || jsonb_build_object(?::text, ?::text) where id = ?`, [key, ref, runId]);
}

/** The approval message (deploys; edited as decisions come in) and, once, the outcome. */
async function renderDeployExtras(em: EntityManager, adapter: ChatAdapter, view: RunView, runMessageRef: string) {
  const refs = await chatRefs(em, view.run.id);
  const approvals = view.run.result?.approvals as ApprovalState | undefined;
  if (approvals && adapter.upsertApprovalMessage) {
    const ref = await adapter.upsertApprovalMessage({ ...view, approvals }, runMessageRef, refs.approval);
    if (ref !== refs.approval) await saveChatRef(em, view.run.id, 'approval', ref);
  }
  const finished = ['succeeded', 'failed', 'cancelled'].includes(view.run.status);
  if (finished && !refs.outcome && adapter.postOutcome) {
    await saveChatRef(em, view.run.id, 'outcome', await adapter.postOutcome(view, runMessageRef));
  }
}

/**
 * A finished docs run's pull request, announced once in every channel linked to the project.
 * Measured here: from the push's arrival to the link being posted.
 */
async function announceInLinkedChannels(em: EntityManager, opts: ChatWorkerOptions, view: RunView) {
  const { run } = view;
  const channels: Array<{ channel: string }> = await em.getConnection().execute(`select channel from channel_links where project_key = ? order by channel`, [run.projectKey]);
  const refs = await chatRefs(em, run.id);
  for (const { channel } of channels) {
    // The channel the command came from gets the link in its run thread instead.
    if (channel === run.channel) continue;
    const adapter = opts.adapters.get(channel.split(':')[0]!);
    if (!adapter?.postNotice || refs[`notice:${channel}`]) continue;
    const ref = await adapter.postNotice(view, channel);
    await saveChatRef(em, run.id, `notice:${channel}`, ref);
    const receivedAt = Number(run.input.receivedAt);
    if (Number.isFinite(receivedAt) && !run.result?.pushToLinkMs) {
      const ms = Date.now() - receivedAt;
      await em.getConnection().execute(`update workflow_runs set result = coalesce(result, '{}'::jsonb) || jsonb_build_object('pushToLinkMs', ?::int) where id = ?`, [ms, run.id]);
      opts.logger.info({ run: run.ref, ms }, 'docs pull request announced');
    }
  }
}

export function createChatWorker(opts: ChatWorkerOptions): Worker<ChatRenderJob> {
  return new Worker<ChatRenderJob>(QUEUE_NAMES.chat, (job) => renderRunInChat(opts, job), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
}
