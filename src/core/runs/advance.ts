import type { CoreContext } from '../context.js';
import { afterCommit } from '../db/transaction.js';
import { appendEvent, runTimeline, type EventPatch } from './store.js';
import { isFinal, type RunEventMessage } from './model.js';
import type { CoreMetrics } from '../metrics.js';
import { runFinished } from './hooks.js';

export type { EventPatch } from './store.js';

type AdvanceContext = Pick<CoreContext, 'em' | 'publisher' | 'scheduler' | 'logger' | 'afterCommit' | 'metrics'>;

/**
 * The one door through which a run changes. The event is stored (with the patch applied to the
 * run, atomically, in the caller's transaction if there is one); once that is committed it is
 * published to the live feeds and the run's chat view is asked to catch up. Delivery after the
 * commit may fail (Redis down): the event is safe in Postgres, feeds fetch what they missed by
 * seq, and the chat sweep re-renders runs whose chat view is behind.
 *
 * Returns undefined when the run had already finished (or a guard in the patch did not hold).
 */
export async function advance(ctx: AdvanceContext, runId: number, patch: EventPatch): Promise<RunEventMessage | undefined> {
  const event = await appendEvent(ctx.em, runId, patch);
  if (!event) return undefined;
  // In the caller's transaction: a deploy that finishes hands its environment on as it finishes.
  if (isFinal(event.status)) await runFinished(ctx, event);
  // A finished run's stage timings are read in its transaction and counted once it commits.
  const timeline = ctx.metrics && isFinal(event.status) ? await runTimeline(ctx.em, runId) : undefined;
  await afterCommit(ctx, async () => {
    if (timeline && ctx.metrics) observeRun(ctx.metrics, event, timeline);
    await deliver(ctx, event);
  });
  return event;
}

/** Run duration by outcome, and time in each stage (a stage lasts until the next one starts, the last until the end). */
function observeRun(metrics: CoreMetrics, event: RunEventMessage, timeline: Awaited<ReturnType<typeof runTimeline>>): void {
  const end = Date.parse(event.at);
  metrics.runFinished(event.kind, event.status, Math.max(0, end - timeline.createdAt.getTime()) / 1000);
  timeline.stages.forEach((s, i) => {
    const until = timeline.stages[i + 1]?.startedAt.getTime() ?? end;
    if (until > s.startedAt.getTime() || i < timeline.stages.length - 1) metrics.stageFinished(event.kind, s.stage, Math.max(0, until - s.startedAt.getTime()) / 1000);
  });
}

async function deliver(ctx: AdvanceContext, event: RunEventMessage): Promise<void> {
  const results = await Promise.allSettled([
    ctx.publisher.publish(event),
    ctx.scheduler.enqueueChatRender(event.runId, event.seq, event.ref),
    ctx.scheduler.enqueueNotify(event.runId, event.seq),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) ctx.logger.warn({ run: event.ref, seq: event.seq, err: (failed.reason as Error)?.message }, 'event stored but not delivered yet; the sweeps will catch up');
}

/** Thrown by a workflow step that finds its run already finished (cancelled, expired): stop quietly. */
export class RunClosed extends Error {
  override name = 'RunClosed';
}

/** `advance` for workflow steps: a run that has finished stops the workflow. */
export async function step(ctx: AdvanceContext, runId: number, patch: EventPatch): Promise<RunEventMessage> {
  const event = await advance(ctx, runId, patch);
  if (!event) throw new RunClosed(`run ${runId} has finished; its workflow stops`);
  return event;
}
