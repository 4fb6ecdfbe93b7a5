/**
 * GET /readyz: every dependency checked at once, each within a time limit, so the answer comes
 * within a second whatever is down. The database and Redis are needed to take work in: either
 * down makes the process not ready (503). Outside services (GitHub, Slack, Discord) that are
 * configured are checked too; one that fails makes the process degraded (still 200): commands
 * are taken in and their jobs retry until the service answers.
 */

export type CheckStatus = 'up' | 'down' | 'degraded';

export interface Probe {
  name: string;
  /** Needed to take work in (database, Redis): down makes the process not ready. */
  critical: boolean;
  /** Resolves when the dependency answers; rejects (or is aborted) otherwise. */
  check(signal: AbortSignal): Promise<unknown>;
}

export interface Readiness {
  ok: boolean;
  status: 'ready' | 'degraded' | 'down';
  checks: Record<string, { status: CheckStatus; ms: number; error?: string }>;
}

/**
 * A probe whose outcome (answer or failure) is reused for `ttlMs`: outside services are asked at
 * most once per that time, however often /readyz is called (it needs no authentication). Calls
 * while a check is under way share it.
 */
export function cachedProbe(probe: Probe, ttlMs: number): Probe {
  if (ttlMs <= 0) return probe;
  let last: { at: number; outcome: Promise<unknown> } | undefined;
  return {
    ...probe,
    check(signal) {
      if (!last || performance.now() - last.at > ttlMs) {
        // Not tied to one caller's abort: the outcome is shared, each caller waits within its own limit.
        const outcome = Promise.resolve().then(() => probe.check(AbortSignal.timeout(5_000)));
        outcome.catch(() => undefined);
        last = { at: performance.now(), outcome };
      }
      const mine = last.outcome;
      return new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        mine.then(resolve, reject);
      });
    },
  };
}

export async function readiness(probes: Probe[], limitMs = 800): Promise<Readiness> {
  const results = await Promise.all(
    probes.map(async (p) => {
      const started = performance.now();
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const error = await Promise.race([
        Promise.resolve()
          .then(() => p.check(abort.signal))
          .then(() => undefined, (err: unknown) => (err as Error)?.message || String(err)),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve(`no answer within ${limitMs} ms`), limitMs);
        }),
      ]);
      clearTimeout(timer);
      abort.abort();
      const status: CheckStatus = error === undefined ? 'up' : p.critical ? 'down' : 'degraded';
      return [p.name, { status, ms: Math.round(performance.now() - started), ...(error !== undefined && { error: error.slice(0, 200) }) }] as const;
    }),
  );
  const checks = Object.fromEntries(results);
  const statuses = Object.values(checks).map((c) => c.status);
  const status = statuses.includes('down') ? 'down' : statuses.includes('degraded') ? 'degraded' : 'ready';
  return { ok: status !== 'down', status, checks };
}
