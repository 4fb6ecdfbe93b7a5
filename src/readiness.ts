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
