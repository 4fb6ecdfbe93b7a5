import { io, type Socket } from 'socket.io-client';
import type { ApiClient, FeedEvent, Run, RunDetail } from './api.js';
import { CliError, EXIT } from './exit.js';
import type { Reporter } from './output.js';

/**
 * Follows one run over the live feed (Socket.IO, the stream the console and widget use). The
 * server replays every stored event after the cursor we send and then streams; after a dropped
 * connection we subscribe again with the last seq shown, so nothing is missed. Events at or below
 * that seq are dropped (never shown twice) and a gap is filled from the REST API.
 */

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'needs_input']);

export interface WatchOptions {
  reporter: Reporter;
  /** Stop (as an interruption) when this aborts: Ctrl-C. */
  signal?: AbortSignal;
  /** Give up after this long without a connection (exit 5). */
  giveUpAfterMs?: number;
}

export interface WatchResult {
  run: Run;
  /** The final event, when the run finished while we watched. */
  final?: FeedEvent;
  interrupted: boolean;
  /** Events the server sent twice and we dropped (diagnostics for tests). */
  duplicates: number;
}

/** A failed deploy whose approvals hold a rejection was rejected, not broken. */
export function wasRejected(e: FeedEvent | undefined): boolean {
  const decisions = e?.data?.approvals?.decisions as Array<{ decision: string }> | undefined;
  return e?.status === 'failed' && Boolean(decisions?.some((d) => d.decision === 'reject'));
}

function connect(api: ApiClient): Socket {
  const base = new URL(api.url);
  return io(base.origin, {
    path: `${base.pathname.replace(/\/$/, '')}/socket.io/`,
    transports: ['websocket'],
    auth: { token: api.token },
    reconnectionDelay: 250,
    reconnectionDelayMax: 3000,
    timeout: 10_000,
  });
}

/**
 * Shows one run's events exactly once and in order: an event at or below the last one shown is
 * dropped (with a notice: the server promises each once), a gap is filled from the REST API first.
 */
export function createSequencer(api: ApiClient, run: Run, reporter: Reporter, onFinal: (e: FeedEvent) => void, onError: (err: Error) => void) {
  let last = 0;
  let duplicates = 0;
  let stopped = false;
  let chain = Promise.resolve();
  const show = (e: FeedEvent) => {
    if (stopped) return;
    if (e.seq <= last) {
      if (++duplicates === 1) reporter.note(`Dropped event ${e.seq} of ${run.ref}: already shown.`);
      return;
    }
    last = e.seq;
    reporter.event(e);
    if (FINAL.has(e.status)) onFinal(e);
  };
  return {
    last: () => last,
    duplicates: () => duplicates,
    stop: () => void (stopped = true),
    receive(e: FeedEvent) {
      chain = chain
        .then(async () => {
          if (e.runId !== run.id) return;
          if (e.seq > last + 1) {
            const missed = await api.get<{ events: FeedEvent[] }>(`/api/v1/runs/${encodeURIComponent(run.ref)}/events?after=${last}`);
            for (const m of missed.events) if (m.seq < e.seq) show(m);
          }
          show(e);
        })
        .catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
    },
  };
}

export async function watchRun(api: ApiClient, ref: string, opts: WatchOptions): Promise<WatchResult> {
  const { run } = await api.get<RunDetail>(`/api/v1/runs/${encodeURIComponent(ref)}`);
  const { reporter } = opts;
  const socket = connect(api);
  let giveUp: NodeJS.Timeout | undefined;
  let connectedOnce = false;
  let warned = false;
  let done = false;

  return new Promise<WatchResult>((resolve, reject) => {
    const finish = (result: Omit<WatchResult, 'run' | 'duplicates'> | Error) => {
      if (done) return;
      done = true;
      events.stop();
      clearTimeout(giveUp);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.disconnect();
      reporter.stop();
      if (result instanceof Error) reject(result);
      else resolve({ run, duplicates: events.duplicates(), ...result });
    };
    const events = createSequencer(api, run, reporter, (final) => finish({ final, interrupted: false }), finish);
    const fail = (message: string, code: CliError['exitCode']) => finish(new CliError(message, code));
    const startGiveUp = () => {
      clearTimeout(giveUp);
      const ms = opts.giveUpAfterMs ?? 300_000;
      giveUp = setTimeout(() => fail(`Lost the connection to ${api.url} for ${Math.round(ms / 1000)} s; ${run.ref} goes on: autodevhub watch ${run.ref}`, EXIT.unreachable), ms);
    };
    const onAbort = () => finish({ interrupted: true });
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    startGiveUp();

    socket.on('run-event', events.receive);
    socket.on('revoked', () => fail('The API token was revoked; sign in again: autodevhub login', EXIT.notPermitted));
    socket.on('connect', () => {
      clearTimeout(giveUp);
      if (connectedOnce) reporter.note(`Reconnected; resuming ${run.ref} after event ${events.last()}.`);
      connectedOnce = true;
      // The cursor is the last event shown: the server replays only what came after it.
      socket.emit('subscribe', { run: run.id, cursors: { [String(run.id)]: events.last() } }, (reply: { ok: boolean; error?: string }) => {
        if (!reply?.ok) fail(`Cannot watch ${run.ref}: ${reply?.error ?? 'the server refused'}.`, EXIT.failed);
      });
    });
    socket.on('connect_error', (err: Error) => {
      // A refusal by the server's handshake (token, scope) is final; a transport error is retried.
      if (!socket.active) return fail(`The live feed refused the connection: ${err.message}`, /^(unauthorized|forbidden)/.test(err.message) ? EXIT.notPermitted : EXIT.failed);
      if (!connectedOnce && !warned) reporter.note(`Cannot reach the live feed yet (${err.message}); retrying…`);
      warned = true;
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      reporter.note(`Connection lost (${reason}); reconnecting…`);
      if (reason === 'io server disconnect') return fail(`The server closed the live feed; ${run.ref} goes on: autodevhub watch ${run.ref}`, EXIT.failed);
      startGiveUp();
    });
  });
}
