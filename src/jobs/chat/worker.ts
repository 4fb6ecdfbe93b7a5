import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ChatAdapter } from '../../core/chat.js';
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
    await markChatRendered(em, runId, run.lastSeq);
    return 'rendered';
  } finally {
    await opts.connection.eval(RELEASE, 1, lockKey, token);
  }
}

export function createChatWorker(opts: ChatWorkerOptions): Worker<ChatRenderJob> {
  return new Worker<ChatRenderJob>(QUEUE_NAMES.chat, (job) => renderRunInChat(opts, job), {
    connection: opts.connection,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
  });
}
