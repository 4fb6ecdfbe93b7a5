import ora, { type Ora } from 'ora';
import type { FeedEvent } from './api.js';

/**
 * How live progress is shown: a spinner line per stage with a progress bar and elapsed time on a
 * terminal; plain timestamped lines when output goes to a file or CI log; one JSON event per line
 * with --json. Connection notices go to stderr, so stdout stays parseable.
 */

export type Mode = 'tty' | 'plain' | 'json';

export interface Reporter {
  event(e: FeedEvent): void;
  /** A notice about the watch itself (connection lost, resumed). */
  note(text: string): void;
  /** The watch is over (finished, interrupted or failed): stop spinners and timers. */
  stop(): void;
}

interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream & { isTTY?: boolean };
}

export function chooseMode(opts: { json?: boolean }, err: { isTTY?: boolean; columns?: number }): Mode {
  if (opts.json) return 'json';
  // A terminal of no width (a pty nobody sized, as some CI runners give) cannot hold a redrawn line.
  return err.isTTY && (err.columns ?? 0) > 0 ? 'tty' : 'plain';
}

export function createReporter(mode: Mode, streams: Streams, since?: string): Reporter {
  if (mode === 'json') return jsonReporter(streams);
  if (mode === 'plain') return plainReporter(streams);
  return ttyReporter(streams, since ? Date.parse(since) : Date.now());
}

function jsonReporter({ out, err }: Streams): Reporter {
  return {
    event: (e) => out.write(`${JSON.stringify(e)}\n`),
    note: (text) => err.write(`${text}\n`),
    stop: () => undefined,
  };
}

export function plainLine(e: FeedEvent): string {
  const stage = e.stage ? ` ${e.stage}` : '';
  return `${e.at} ${e.ref} ${e.status}${stage} ${e.progress}% ${e.message}`.trimEnd();
}

function plainReporter({ out, err }: Streams): Reporter {
  return {
    event: (e) => out.write(`${plainLine(e)}\n`),
    note: (text) => err.write(`${new Date().toISOString()} ${text}\n`),
    stop: () => undefined,
  };
}

export function progressBar(percent: number, width = 20): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(percent).padStart(3)}%`;
}

export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, '0');
  return `${h ? `${h}:` : ''}${mm}:${String(s % 60).padStart(2, '0')}`;
}

function ttyReporter({ err }: Streams, startedAt: number, isEnabled = true): Reporter {
  let spinner: Ora | undefined;
  let stage: string | null | undefined;
  let last: FeedEvent | undefined;
  const text = () => (last ? `${last.ref} ${last.stage ?? last.status} ${progressBar(last.progress)} ${elapsed(Date.now() - startedAt)}  ${last.message}` : '');
  // Elapsed time moves on between events.
  const timer = setInterval(() => {
    if (spinner?.isSpinning) spinner.text = text();
  }, 1000);
  timer.unref();
  return {
    event(e) {
      if (spinner && e.stage !== stage) spinner.succeed(text());
      last = e;
      if (!spinner || e.stage !== stage) spinner = ora({ text: text(), stream: err, discardStdin: false, isEnabled }).start();
      stage = e.stage;
      spinner.text = text();
      if (e.status === 'succeeded') spinner.succeed(text());
      else if (e.status === 'failed') spinner.fail(text());
      // needs_input is a request to rewrite the description, not a failure.
      else if (e.status === 'cancelled' || e.status === 'needs_input') spinner.warn(text());
      else if (e.status === 'waiting_approval') spinner.text = `${text()} (waiting for approval)`;
    },
    note(line) {
      if (spinner?.isSpinning) spinner.info(line).start(text());
      else err.write(`${line}\n`);
    },
    stop() {
      clearInterval(timer);
      if (spinner?.isSpinning) spinner.stop();
    },
  };
}

export { ttyReporter as createTtyReporter };
