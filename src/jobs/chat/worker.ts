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
    if (!adapter) {
      await markChatRendered(em, runId, run.lastSeq);
      return 'no chat';
    }
    const story = run.status === 'succeeded' ? await findStoryByRun({ em }, runId) : undefined;
    const view = { run, story, webUrl: `${opts.publicUrl}/runs/${run.ref}` };
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
    if (run.kind === 'deploy') await renderDeployExtras(em, adapter, view, ref);
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

/** The approval message (edited as decisions come in) and, once, the outcome. */
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

export function createChatWorker(opts: ChatWorkerOptions): Worker<ChatRenderJob> {
  return new Worker<ChatRenderJob>(QUEUE_NAMES.chat, (job) => renderRunInChat(opts, job), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
}
