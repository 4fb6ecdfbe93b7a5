import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * What every log line of one request or job carries: the request id (from the HTTP request, and
 * handed on to the jobs it enqueues), the platform's delivery id, and the run reference once
 * known. Kept in AsyncLocalStorage, so any code on the request's or job's path logs them without
 * passing them around.
 */
export interface LogFields {
  requestId?: string | undefined;
  deliveryId?: string | undefined;
  run?: string | undefined;
  queue?: string | undefined;
  jobId?: string | undefined;
}

const fields = new AsyncLocalStorage<LogFields>();

/** Runs `fn` with these fields on every log line it (and everything it awaits) writes. */
export function withLogContext<T>(extra: LogFields, fn: () => T): T {
  return fields.run({ ...fields.getStore(), ...defined(extra) }, fn);
}

/** The current request's or job's fields. */
export function logContext(): LogFields {
  return fields.getStore() ?? {};
}

/** Adds fields to the current request or job (e.g. the run, once it exists). */
export function annotateLog(extra: LogFields): void {
  const store = fields.getStore();
  if (store) Object.assign(store, defined(extra));
}

function defined(f: LogFields): LogFields {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined && v !== null && v !== ''));
}

export interface LoggerOptions {
  name?: string;
  /** Values that must never be written (the configured secrets): replaced wherever they appear. */
  secrets?: Array<string | undefined>;
  /** Where lines go (default: standard output). */
  destination?: DestinationStream;
  /** Human-readable lines (a person at a terminal); otherwise one JSON object per line. */
  pretty?: boolean;
}

/** Credentials that look like what they are, whatever carried them into a line. */
const SECRET_PATTERNS: RegExp[] = [
  /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/g, // JWTs: sessions, widget tokens, Bot Framework tokens
  /\bxox[abposr]-[\w-]{8,}/g, // Slack tokens
  /\bsk-ant-[\w-]{8,}/g, // Anthropic keys
  /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g, // OpenAI keys
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})/g, // GitHub tokens
  /((?:[?&]|\b)(?:token|signature|sig|code|key)=)[^&\s"']{6,}/gi, // secrets in URLs (sign-in links)
  /(\/(?:webhooks|interactions)\/\d+\/)[\w.-]{20,}/g, // Discord interaction tokens in webhook URLs
  /(adh_session=)[^;\s"']+/g, // the session cookie
];

function scrubber(secrets: string[]): (line: string) => string {
  const exact = secrets.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const s of exact) if (out.includes(s)) out = out.replaceAll(s, '[redacted]');
    for (const re of SECRET_PATTERNS) out = out.replace(re, (m, prefix?: string) => (typeof prefix === 'string' && m.startsWith(prefix) ? `${prefix}[redacted]` : '[redacted]'));
    return out;
  };
}

export function createLogger(level: string, opts: LoggerOptions | string = {}): Logger {
  const o = typeof opts === 'string' ? { name: opts } : opts;
  const scrub = scrubber((o.secrets ?? []).filter((s): s is string => Boolean(s)));
  // Pretty output is made in-process and synchronously (no worker thread), so the last lines
  // before an exit are not lost; the scrubber sees every line before it is formatted.
  const out = o.destination ?? (o.pretty ? pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,name' }) : pino.destination(1));
  return pino(
    {
      name: o.name ?? 'autodevhub',
      level,
      mixin: () => fields.getStore() ?? {},
      // Secrets never reach the logs, whatever a caller passes in: known fields are redacted, and
      // every line is scrubbed of the configured secrets and of anything shaped like a credential.
      redact: {
        paths: [
          '*.token', '*.botToken', '*.signingSecret', '*.apiKey', '*.secret', '*.password', '*.appPassword',
          'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie', '*.headers["x-api-key"]',
          'config.headers', '*.config.headers', 'err.config', 'err.request', 'err.response.config',
        ],
        censor: '[redacted]',
      },
    },
    { write: (line: string) => out.write(scrub(line)) } as DestinationStream,
  );
}
