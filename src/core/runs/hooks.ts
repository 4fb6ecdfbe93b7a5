import type { CoreContext } from '../context.js';
import type { RunEventMessage, RunKind } from './model.js';

export type FinishedHookContext = Pick<CoreContext, 'em' | 'publisher' | 'scheduler' | 'logger' | 'afterCommit' | 'metrics'>;
type FinishedHook = (ctx: FinishedHookContext, event: RunEventMessage) => Promise<void>;

/**
 * What must happen, in the same transaction, when a run of a kind finishes: a deploy lets go of
 * its environment (core/safety/queue.ts). A module registers itself here so that the run module,
 * which every domain imports, imports none of them.
 */
const hooks = new Map<RunKind, FinishedHook[]>();

export function onRunFinished(kind: RunKind, hook: FinishedHook): void {
  const list = hooks.get(kind) ?? [];
  if (!list.includes(hook)) list.push(hook);
  hooks.set(kind, list);
}

export async function runFinished(ctx: FinishedHookContext, event: RunEventMessage): Promise<void> {
  for (const hook of hooks.get(event.kind) ?? []) await hook(ctx, event);
}
