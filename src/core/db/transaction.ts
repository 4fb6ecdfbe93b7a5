import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';

/**
 * A context that may be inside a transaction. `afterCommit` is there only inside one: work that
 * must not happen unless the transaction commits (publishing an event, enqueueing a job) is
 * handed to it; outside a transaction it runs at once.
 */
export interface Transactional {
  em: EntityManager;
  logger: Logger;
  afterCommit?: (fn: () => Promise<unknown>) => void;
  /**
   * Set inside a transaction: statements that must be the transaction's last (the audit row).
   * They run, in order, after `fn` and before the commit, so the lock they take (the audit
   * chain's head) is held only while the transaction commits, never while it waits for another.
   */
  beforeCommit?: (fn: () => Promise<unknown>) => void;
}

/**
 * Runs `fn` in one database transaction with a context whose `em` is the transaction's. Every
 * store call made with that context joins the transaction; the audit row of a decision is written
 * inside it, so a decision and its record commit together or not at all. Hooks given to
 * `afterCommit` run once the commit succeeded, in order; their failures are logged, not thrown
 * (what they deliver is recovered by the sweeps).
 */
export async function transaction<C extends Transactional, T>(ctx: C, fn: (tx: C) => Promise<T>): Promise<T> {
  if (ctx.afterCommit) return fn(ctx); // already inside one: join it
  const hooks: Array<() => Promise<unknown>> = [];
  const result = await ctx.em.transactional(async (em) => {
    const last: Array<() => Promise<unknown>> = [];
    const value = await fn({ ...ctx, em, afterCommit: (h) => hooks.push(h), beforeCommit: (h) => last.push(h) });
    for (const statement of last) await statement();
    return value;
  });
  for (const hook of hooks) {
    await hook().catch((err: unknown) => ctx.logger.warn({ err }, 'work after a commit failed; it will be retried by a sweep'));
  }
  return result;
}

/** Runs `fn` after the surrounding transaction commits, or now when there is none. */
export async function afterCommit(ctx: Transactional, fn: () => Promise<unknown>): Promise<void> {
  if (ctx.afterCommit) ctx.afterCommit(fn);
  else await fn();
}
