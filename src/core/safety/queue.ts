import type { CoreContext } from '../context.js';
import { transaction } from '../db/transaction.js';
import { advance } from '../runs/advance.js';
import { onRunFinished, type FinishedHookContext } from '../runs/hooks.js';
import { getRun } from '../runs/store.js';
import { isFinal, type RunEventMessage, type RunStatus } from '../runs/model.js';
import { audit } from '../audit/store.js';
import { afterCommit } from '../db/transaction.js';
import { holdsEnvironment, letGo, lockQueue, setQueue, type QueueSlot } from './store.js';

/**
 * One deploy at a time per environment (issue 27), like a GitHub Actions concurrency group: one
 * run has the environment, from its request until it finishes (its approval wait included), and
 * at most one waits. A newer request takes the waiting place and the run it replaces is cancelled
 * as superseded, with its people told in its thread. A rollback asked by a person does not queue:
 * it goes back to what is there now, which a run ahead of it would change, so it is refused while
 * the environment is busy (issue 22, item 3). An automatic rollback waits for the run it rolls back.
 *
 * Postgres decides: the environment's queue row is locked `for update` while a run joins, and a
 * finished run hands the environment on inside the transaction that finishes it (runs/hooks.ts).
 * A waiting run holds no job; it is started by the hand-over (a `turn` job), and the recovery
 * sweep's job finds it in line and stops at once.
 */

export type Place =
  | { place: 'active' }
  | { place: 'waiting'; behind: QueueSlot; superseded?: QueueSlot }
  | { place: 'superseded'; by: QueueSlot }
  | { place: 'refused'; reason: string }
  | { place: 'finished' };

interface Joiner {
  id: number;
  ref: string;
  requestedBy: string;
  input: { environment: string; trigger?: string | undefined; rollbackOf?: string | undefined };
}

const open = (s?: QueueSlot): s is QueueSlot => Boolean(s && !isFinal(s.status as RunStatus));

function busyWith(s: QueueSlot, environment: string): string {
  const doing = s.status === 'waiting_approval' ? 'is waiting for approval to deploy' : s.stage === 'queue' ? 'is waiting to deploy' : 'is deploying';
  return `${s.ref} (${s.description || 'a deploy'}, by ${s.requestedBy}) ${doing} to ${environment}`;
}

/** Why a rollback is refused while the environment is busy: the words for the person. */
export function rollbackBusyText(s: QueueSlot, environment: string): string {
  return `${busyWith(s, environment)}; a rollback now would be overtaken by it. Reject or cancel ${s.ref} (or wait for it to finish), then roll back.`;
}

/** Joins the environment's queue, or finds the run's place in it (idempotent). */
export async function joinQueue(ctx: CoreContext, run: Joiner, repo: string): Promise<Place> {
  if (await holdsEnvironment(ctx.em, run.id)) return { place: 'active' };
  for (let attempt = 0; ; attempt++) {
    try {
      return await transaction(ctx, (tx) => joinLocked(tx, run, repo));
    } catch (err) {
      // Finishing a run locks the run, then the queue; joining locks the queue, then the runs it
      // moves. Postgres breaks the rare cycle by aborting one; the join simply tries again.
      if (attempt < 3 && /deadlock/i.test(String((err as Error).message))) continue;
      throw err;
    }
  }
}

async function joinLocked(tx: CoreContext, run: Joiner, repo: string): Promise<Place> {
  const environment = run.input.environment;
  const q = await lockQueue(tx.em, repo, environment);
  if (q.active?.runId === run.id) return { place: 'active' };
  const me = await getRun(tx.em, run.id);
  if (isFinal(me.status)) return { place: 'finished' };
  if (q.waiting?.runId === run.id && open(q.active)) {
    // Placed already (by its worker, which starts at intake): the same answer, with whom it replaced.
    const replaced = (me.result as { queue?: { superseded?: QueueSlot } }).queue?.superseded;
    return { place: 'waiting', behind: q.active, ...(replaced && { superseded: replaced }) };
  }
  let active = open(q.active) ? q.active : undefined;
  let waiting = open(q.waiting) && q.waiting.runId !== run.id ? q.waiting : undefined;
  if (!active && waiting) {
    // The run ahead finished but its hand-over was lost (a crash): the older request goes first.
    await setQueue(tx.em, repo, environment, { active: waiting.runId, waiting: null });
    await startTurn(tx, waiting.runId, `${environment} is free; starting`);
    active = waiting;
    waiting = undefined;
  }
  if (!active) {
    await setQueue(tx.em, repo, environment, { active: run.id, waiting: null });
    return { place: 'active' };
  }
  if (run.input.trigger === 'rollback') {
    const reason = rollbackBusyText(active, environment);
    await advance(tx, run.id, { status: 'failed', stage: 'queue', message: `Not rolled back: ${reason}`, error: reason, expectStatus: ['queued'] });
    await audit(tx, { actor: 'autodevhub', action: 'deploy.rollback_refused_busy', target: run.ref, data: { environment, busy: active.ref } });
    return { place: 'refused', reason };
  }
  const mine: QueueSlot = { runId: run.id, ref: run.ref, status: me.status, stage: 'queue', requestedBy: run.requestedBy, description: String(me.input.description ?? ''), createdAt: me.createdAt };
  if (waiting && waiting.runId > run.id) {
    // A newer request already waits: this older one is the superseded one.
    await supersede(tx, mine, waiting, environment);
    return { place: 'superseded', by: waiting };
  }
  await setQueue(tx.em, repo, environment, { active: active.runId, waiting: run.id });
  if (waiting) await supersede(tx, waiting, mine, environment);
  await advance(tx, run.id, {
    stage: 'queue',
    message: `Waiting for ${environment}: ${busyWith(active, environment)}. This deploy starts when it finishes${waiting ? ` (it replaces ${waiting.ref}, which waited before it)` : ''}.`,
    data: { queue: { environment, behind: active.ref, ...(waiting && { superseded: waiting.ref }) } },
    result: { queue: { environment, behind: active.ref, ...(waiting && { superseded: waiting }) } },
    expectStatus: ['queued'],
  });
  return { place: 'waiting', behind: active, ...(waiting && { superseded: waiting }) };
}

async function supersede(tx: CoreContext, old: QueueSlot, by: QueueSlot, environment: string): Promise<void> {
  const message = `Superseded by ${by.ref} (${by.requestedBy}), a newer request for ${environment}: only the newest request waits while a deploy is under way. Nothing was deployed.`;
  const event = await advance(tx, old.runId, { status: 'cancelled', stage: 'superseded', message, error: message, data: { supersededBy: by.ref }, expectStatus: ['queued'] });
  if (event) await audit(tx, { actor: 'autodevhub', action: 'deploy.superseded', target: old.ref, data: { by: by.ref, environment } });
}

async function startTurn(ctx: FinishedHookContext, runId: number, message: string): Promise<void> {
  const event = await advance(ctx, runId, { stage: 'queued', message, expectStatus: ['queued'] });
  if (!event) return;
  await afterCommit(ctx, () => ctx.scheduler.enqueueRunPhase({ id: runId, kind: 'deploy', ref: event.ref }, 'turn'));
}

/** A finished deploy lets go of its environment; the run waiting for it starts. */
async function handOn(ctx: FinishedHookContext, event: RunEventMessage): Promise<void> {
  const freed = await letGo(ctx.em, event.runId);
  if (!freed?.next) return;
  await startTurn(ctx, freed.next, `${event.ref} finished (${event.status.replace('_', ' ')}); ${freed.environment} is this deploy's now. Starting`);
}

onRunFinished('deploy', handOn);
