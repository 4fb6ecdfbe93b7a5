import type { SmokeCheck } from '../config.js';
import type { Verification } from '../runs/model.js';
import { guardedGet, RefusedAddress } from '../notify/net.js';

/**
 * Health verification after GitHub reports a deployment successful: an HTTP URL that must answer
 * 2xx within a time limit (retried a configured number of times), and/or the deployment's latest
 * GitHub status, which must still be `success`. What was checked and what came back is kept, so
 * a failure can be shown as it happened.
 */

export interface SmokeDeps {
  /** The deployment's latest GitHub status, read again. */
  githubStatus(): Promise<{ state: string; environmentUrl: string | null } | undefined>;
  /** Private ranges a URL that came from outside (GitHub's environment_url) may reach anyway (WEBHOOK_ALLOW_PRIVATE_CIDRS). */
  allowedCidrs?: string[];
  sleep?(ms: number): Promise<void>;
}

type Check = Verification['checks'][number];
type Attempt = Check['attempts'][number];

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What of an answer's body may be published (run text, chat, email): a short excerpt with markup,
 * control characters and anything that looks like a credential taken out.
 */
export function sanitisedExcerpt(body: string, max = 80): string {
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e]/g, ' ')
    .replace(/\b([\w-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|key|credential|auth\w*|session|cookie)[\w-]*)\s*[:=]\s*("[^"]*"|'[^']*'|\S+)/gi, '$1=[redacted]')
    .replace(/[A-Za-z0-9+/_=-]{24,}/g, '[redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

type ProbeResult = { ok: boolean; status: number | null; detail: string; ms: number; refused?: boolean };

/**
 * One GET: 2xx within the time limit passes; anything else says what came back (the status line
 * and a short sanitised excerpt, never the body). `guard`: the URL came from outside, so it must
 * pass the address guard webhooks use (no loopback, private or metadata addresses).
 */
export async function probe(url: string, timeoutMs: number, guard?: { allowedCidrs: string[] }): Promise<ProbeResult> {
  const started = Date.now();
  const headers = { 'user-agent': 'AutoDevHub smoke check' };
  try {
    let status: number;
    let statusText: string;
    let body: string;
    if (guard) {
      ({ status, statusText, body } = await guardedGet(url, headers, { timeoutMs, allowedCidrs: guard.allowedCidrs }));
    } else {
      const res = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), headers });
      ({ status, statusText } = res);
      body = (await res.text().catch(() => '')).slice(0, 4096);
    }
    const ok = status >= 200 && status < 300;
    const excerpt = ok ? '' : sanitisedExcerpt(body);
    return { ok, status, detail: `HTTP ${status}${statusText ? ` ${sanitisedExcerpt(statusText, 40)}` : ''}${excerpt ? `: ${excerpt}` : ''}`, ms: Date.now() - started };
  } catch (err) {
    if (err instanceof RefusedAddress) {
      return { ok: false, status: null, refused: true, detail: `refused: ${err.message} (a URL GitHub reports must be public; WEBHOOK_ALLOW_PRIVATE_CIDRS allows a private range)`, ms: Date.now() - started };
    }
    const e = err as Error & { cause?: { code?: string }; code?: string };
    const detail = e.name === 'TimeoutError' || e.name === 'AbortError' || /no answer within/.test(e.message) ? `no answer within ${timeoutMs} ms` : `could not connect (${e.cause?.code ?? e.code ?? sanitisedExcerpt(e.message)})`;
    return { ok: false, status: null, detail, ms: Date.now() - started };
  }
}

async function httpCheck(url: string, check: SmokeCheck, sleep: (ms: number) => Promise<void>, guard?: { allowedCidrs: string[] }): Promise<Check> {
  const attempts: Attempt[] = [];
  for (let i = 0; i <= check.retries; i++) {
    if (i > 0) await sleep(check.interval);
    const { refused, ...result } = await probe(url, check.timeout, guard);
    attempts.push({ attempt: i + 1, ...result });
    // A refused address stays refused: no point in asking again.
    if (result.ok || refused) break;
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
    const fromGitHub = check.url === 'environment_url';
    const url = fromGitHub ? environmentUrl : check.url;
    // A configured URL may be internal on purpose; the one GitHub reports is whatever a deployment status said.
    const guard = fromGitHub ? { allowedCidrs: deps.allowedCidrs ?? [] } : undefined;
    checks.push(url ? await httpCheck(url, check, sleep, guard) : { kind: 'http', target: 'environment_url', ok: false, detail: 'GitHub reported no environment URL to check', attempts: [] });
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
