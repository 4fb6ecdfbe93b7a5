import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobScheduler } from '../core/context.js';

/** Job payloads carry ids only: secrets and user text stay in Postgres. */
export interface RunJob {
  runId: number;
}
export interface ChatRenderJob {
  runId: number;
  seq: number;
}

export const QUEUE_NAMES = { story: 'story', docs: 'docs', deploy: 'deploy', chat: 'chat' } as const;

export interface Queues {
  story: Queue<RunJob>;
  docs: Queue<RunJob>;
  deploy: Queue<RunJob>;
  chat: Queue<ChatRenderJob>;
  scheduler: JobScheduler;
  close(): Promise<void>;
}

export function createQueues(connection: Redis, prefix: string): Queues {
  const DAY = 24 * 3600;
  const queue = <T>(name: string, attempts: number, backoffMs: number, keepDays: { done: number; failed: number }) =>
    new Queue<T>(name, {
      connection,
      prefix,
      defaultJobOptions: {
        attempts,
        backoff: { type: 'exponential', delay: backoffMs },
        removeOnComplete: { age: keepDays.done * DAY, count: 10_000 },
        removeOnFail: { age: keepDays.failed * DAY },
      },
    });
  // Transient failures (Claude overloaded, network) retry: 2 s, 4 s, 8 s, 16 s.
  const story = queue<RunJob>(QUEUE_NAMES.story, 5, 2000, { done: 1, failed: 7 });
  const docs = queue<RunJob>(QUEUE_NAMES.docs, 5, 5000, { done: 7, failed: 30 });
  // GitHub outages: 5 s … 160 s. Waiting on checks is not a retry (delayed jobs).
  const deploy = queue<RunJob>(QUEUE_NAMES.deploy, 7, 5000, { done: 7, failed: 30 });
  const chat = queue<ChatRenderJob>(QUEUE_NAMES.chat, 8, 500, { done: 1 / 24, failed: 7 });
  const queueFor = (kind: string) => {
    if (kind === 'story') return story;
    if (kind === 'deploy') return deploy;
    if (kind === 'docs') return docs;
    throw new Error(`no queue for runs of kind ${kind}`);
  };
  return {
    story,
    docs,
    deploy,
    chat,
    scheduler: {
      async enqueueRuns(runs) {
        const byKind = new Map<string, Array<{ id: number; kind: string }>>();
        for (const r of runs) byKind.set(r.kind, [...(byKind.get(r.kind) ?? []), r]);
        // The job id is the run: adding it again while it exists is a no-op in BullMQ.
        await Promise.all(
          [...byKind].map(([kind, list]) =>
            queueFor(kind).addBulk(list.map((r) => ({ name: kind, data: { runId: r.id }, opts: { jobId: `run-${r.id}` } }))),
          ),
        );
      },
      async enqueueChatRender(runId, seq) {
        await chat.add('render', { runId, seq }, { jobId: `chat-${runId}-${seq}` });
      },
      async enqueueRunPhase(run, phase, delayMs) {
        await queueFor(run.kind).add(phase, { runId: run.id }, { jobId: `run-${run.id}-${phase}`, ...(delayMs && { delay: delayMs }) });
      },
      async enqueueChatRenders(renders) {
        if (renders.length === 0) return;
        await chat.addBulk(renders.map(({ runId, seq }) => ({ name: 'render', data: { runId, seq }, opts: { jobId: `chat-${runId}-${seq}` } })));
      },
    },
    async close() {
      await Promise.all([story.close(), docs.close(), deploy.close(), chat.close()]);
    },
  };
}
