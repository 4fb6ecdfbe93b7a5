import type { SmokeCheck } from '../config.js';
import type { Verification } from '../runs/model.js';

/**
 * Health verification after GitHub reports a deployment successful: an HTTP URL that must answer
 * 2xx within a time limit (retried a configured number of times), and/or the deployment's latest
 * GitHub status, which must still be `success`. What was checked and what came back is kept, so
 * a failure can be shown as it happened.
 */

export interface SmokeDeps {
  /** The deployment's latest GitHub status, read again. */
  githubStatus(): Promise<{ state: string; environmentUrl: string | null } | undefined>;
  sleep?(ms: number): Promise<void>;
}

type Check = Verification['checks'][number];
type Attempt = Check['attempts'][number];

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One GET: 2xx within the time limit passes; anything else says what came back. */
export async function probe(url: string, timeoutMs: number): Promise<{ ok: boolean; status: number | null; detail: string; ms: number }> {
  const started = Date.now();
  try {
    const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': 'AutoDevHub smoke check' } });
    const body = (await res.text().catch(() => '')).replace(/\s+/g, ' ').trim().slice(0, 120);
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, detail: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${!ok && body ? `: ${body}` : ''}`, ms: Date.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const detail = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : `could not connect (${e.cause?.code ?? e.message})`;
    return { ok: false, status: null, detail, ms: Date.now() - started };
  }
}

async function httpCheck(url: string, check: SmokeCheck, sleep: (ms: number) => Promise<void>): Promise<Check> {
  const attempts: Attempt[] = [];
  for (let i = 0; i <= check.retries; i++) {
    if (i > 0) await sleep(check.interval);
    const result = await probe(url, check.timeout);
    attempts.push({ attempt: i + 1, ...result });
    if (result.ok) break;
  }
  const last = attempts.at(-1)!;
  const detail = last.ok
    ? `GET ${url}: ${last.detail}${attempts.length > 1 ? ` (attempt ${attempts.length})` : ''}`
    : `GET ${url}: ${last.detail}, ${attempts.length} attempt(s)`;
  return { kind: 'http', target: url, ok: last.ok, detail, attempts };
}

/** Runs the environment's smoke check; `environmentUrl` is what GitHub reported for the deployment. */
export async function runSmokeCheck(check: SmokeCheck, environmentUrl: string | null, deps: SmokeDeps): Promise<Verification> {
  const sleep = deps.sleep ?? wait;
  const checks: Check[] = [];
  if (check.url) {
    const url = check.url === 'environment_url' ? environmentUrl : check.url;
    checks.push(url ? await httpCheck(url, check, sleep) : { kind: 'http', target: 'environment_url', ok: false, detail: 'GitHub reported no environment URL to check', attempts: [] });
  }
  if (check.github_status) {
    const status = await deps.githubStatus();
    const ok = status?.state === 'success';
    checks.push({ kind: 'github_status', target: 'GitHub deployment status', ok, detail: `latest GitHub deployment status: ${status?.state ?? 'none'}${ok ? '' : ' (expected success)'}`, attempts: [] });
  }
  return { passed: checks.every((c) => c.ok), checks, at: new Date().toISOString() };
}

/** "GET https://… answered HTTP 503 …, 3 attempt(s)": the failing checks in one line. */
export function verificationFailure(v: Verification): string {
  return v.checks.filter((c) => !c.ok).map((c) => c.detail).join('; ');
}
