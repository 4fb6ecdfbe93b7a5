import { randomUUID } from 'node:crypto';
import { CliError, EXIT, exitForStatus } from './exit.js';
import type { Target } from './credentials.js';

/**
 * The public REST API (/api/v1), as the CLI uses it. Every refusal becomes a CliError carrying the
 * API's own message and the matching exit code; a network failure is "could not reach" (exit 5).
 */

export interface FeedEvent {
  runId: number;
  ref: string;
  projectKey: string | null;
  kind: string;
  seq: number;
  stage: string | null;
  status: string;
  progress: number;
  message: string;
  at: string;
  data: Record<string, any> | null;
}

export interface Run {
  id: number;
  ref: string;
  kind: string;
  status: string;
  stage: string | null;
  progress: number;
  projectKey: string | null;
  requestedBy: string;
  error: string | null;
  lastSeq: number;
  createdAt: string;
  finishedAt: string | null;
  input: Record<string, any>;
  links: Record<string, string>;
}

export interface RunDetail {
  run: Run;
  events: FeedEvent[];
  story: { id: number; gherkin: string; confidenceScore: number; openQuestions: string[]; provider: string; model: string } | null;
}

export interface CommandResult {
  text: string;
  duplicate: boolean;
  queued: boolean | null;
  run: Run | null;
}

export interface ApiClient {
  readonly url: string;
  readonly token: string;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  delete(path: string): Promise<void>;
  /** A command as typed in chat (`deploy acme/web staging main`). */
  command(text: string, project?: string): Promise<CommandResult>;
}

interface ErrorBody {
  error?: string;
  message?: string;
  usage?: string;
}

async function refusal(res: Response): Promise<CliError> {
  const body = (await res.json().catch(() => ({}))) as ErrorBody;
  const message = body.message?.trim() || `The server answered ${res.status} ${res.statusText}.`;
  // The grammar's usage text, as the CLI spells it.
  const usage = body.usage?.trim().replace(/^Usage:\s*/, 'Usage: autodevhub ');
  return new CliError(usage ? `${message}\n${usage}` : message, exitForStatus(res.status, body.error));
}

export function createApiClient(t: Target, opts: { timeoutMs?: number } = {}): ApiClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${t.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${t.token}`, accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = (err as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new CliError(`Could not reach ${t.url} (${why}).`, EXIT.unreachable);
    }
    if (!res.ok) throw await refusal(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }
  return {
    url: t.url,
    token: t.token,
    get: (path) => call('GET', path),
    post: (path, body, headers) => call('POST', path, body ?? {}, headers),
    delete: (path) => call('DELETE', path),
    // One key per invocation: a retried request (a proxy's, or ours) never queues a second run.
    command: (text, project) => call('POST', '/api/v1/commands', { text, ...(project && { project }) }, { 'idempotency-key': `cli-${randomUUID()}` }),
  };
}
