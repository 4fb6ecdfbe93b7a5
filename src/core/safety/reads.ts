import type { CoreContext } from '../context.js';
import { isFinal, type RunStatus } from '../runs/model.js';
import { readQueue, type QueueSlot } from './store.js';

/** The open run that has the environment or waits for it (the one a rollback would be overtaken by). */
export async function busySlot(ctx: Pick<CoreContext, 'em'>, repo: string, environment: string): Promise<QueueSlot | undefined> {
  const q = await readQueue(ctx.em, repo, environment);
  return [q.active, q.waiting].find((s): s is QueueSlot => Boolean(s && !isFinal(s.status as RunStatus)));
}
