import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Redis } from 'ioredis';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { RunEventMessage } from '../core/events.js';
import { eventsAfter, findRun, listRuns, type RunSummary } from '../core/services/runs.js';
import { eventsChannel } from './publisher.js';

/** Who a socket is, decided once at the handshake; undefined refuses the connection. */
export interface SocketPrincipal {
  subject: string;
  /** undefined: every project (an admin's console); otherwise only this project. */
  projectKey?: string;
  /** A widget token's id: revoking it disconnects the sockets that used it. */
  tokenId?: string;
}

/** Refuses a handshake with a reason the client is shown (e.g. "unauthorized: token expired"). */
export class HandshakeRefused extends Error {
  override name = 'HandshakeRefused';
}

export function controlChannel(prefix: string): string {
  return `${prefix}:realtime-control`;
}

export interface RealtimeOptions {
  httpServer: HttpServer;
  subscriber: Redis;
  prefix: string;
  em: () => EntityManager;
  logger: Logger;
  authenticate(handshake: Socket['handshake']): Promise<SocketPrincipal | undefined>;
}

export interface SubscribeRequest {
  /** A run reference (R-1042) or id: that run's events. */
  run?: string | number;
  /** A project key: its runs; or "*" for everything (console, admins only). */
  project?: string;
  /** Last seq seen per run id; what is after it is sent once, in order. */
  cursors?: Record<string, number>;
}

export interface SubscribeReply {
  ok: boolean;
  error?: string;
  runs?: RunSummary[];
}

const ALL_ROOM = 'all';

export interface Realtime {
  io: Server;
  close(): Promise<void>;
}

/**
 * Rooms: `run:<id>`, `project:<key>`, and `all` for the console. A subscribe replays what the
 * client missed from Postgres and only then joins the room. Live events that arrive while the
 * replay query runs are held for that socket and sent after it, minus those the replay covered,
 * so a resuming client receives each event exactly once and in order.
 */
export async function createRealtime(opts: RealtimeOptions): Promise<Realtime> {
  // Widgets connect from other origins; which origin may use which token is checked at the
  // handshake, so CORS itself allows any origin, without credentials (no cookies cross-site).
  const io = new Server(opts.httpServer, { serveClient: true, cors: { origin: true, credentials: false } });
  const pending = new Set<(e: RunEventMessage) => void>();

  io.use(async (socket, next) => {
    try {
      const principal = await opts.authenticate(socket.handshake);
      if (!principal) return next(new Error('unauthorized: sign in, or pass a valid token'));
      socket.data.principal = principal;
      next();
    } catch (err) {
      if (err instanceof HandshakeRefused) return next(new Error(err.message));
      opts.logger.error({ err }, 'socket authentication failed');
      next(new Error('could not authenticate; try again'));
    }
  });

  io.on('connection', (socket) => {
    const principal = socket.data.principal as SocketPrincipal;
    if (principal.tokenId) void socket.join(`token:${principal.tokenId}`);
    socket.on('subscribe', async (req: SubscribeRequest, reply?: (r: SubscribeReply) => void) => {
      const answer = typeof reply === 'function' ? reply : () => undefined;
      try {
        answer(await subscribe(socket, req ?? {}));
      } catch (err) {
        opts.logger.warn({ err }, 'subscribe failed');
        answer({ ok: false, error: 'could not subscribe' });
      }
    });
  });

  async function subscribe(socket: Socket, req: SubscribeRequest): Promise<SubscribeReply> {
    const principal = socket.data.principal as SocketPrincipal;
    const em = opts.em();
    let room: string;
    let runs: RunSummary[];
    let accepts: (e: RunEventMessage) => boolean;
    if (req.run !== undefined) {
      const run = await findRun(em, typeof req.run === 'number' ? req.run : String(req.run));
      if (!run || (principal.projectKey && run.projectKey !== principal.projectKey)) return { ok: false, error: 'no such run' };
      room = `run:${run.id}`;
      runs = [run];
      accepts = (e) => e.runId === run.id;
    } else if (req.project && req.project !== '*') {
      if (principal.projectKey && principal.projectKey !== req.project) return { ok: false, error: 'not allowed for this project' };
      room = `project:${req.project}`;
      runs = await listRuns(em, { projectKey: req.project, limit: 50 });
      accepts = (e) => e.projectKey === req.project;
    } else {
      if (principal.projectKey) return { ok: false, error: 'this token is limited to one project' };
      room = ALL_ROOM;
      runs = await listRuns(em, { limit: 50 });
      accepts = () => true;
    }

    const held: RunEventMessage[] = [];
    const hold = (e: RunEventMessage) => {
      if (accepts(e)) held.push(e);
    };
    pending.add(hold);
    const sent = new Map<number, number>();
    try {
      const cursors = req.cursors ?? {};
      for (const run of [...runs].reverse()) {
        const after = Number(cursors[String(run.id)] ?? 0);
        if (run.lastSeq <= after) {
          sent.set(run.id, run.lastSeq);
          continue;
        }
        for (const e of await eventsAfter(em, run, after)) {
          socket.emit('run-event', e);
          sent.set(run.id, e.seq);
        }
      }
    } finally {
      pending.delete(hold);
    }
    for (const e of held) {
      if (e.seq > (sent.get(e.runId) ?? Number(req.cursors?.[String(e.runId)] ?? 0))) {
        socket.emit('run-event', e);
        sent.set(e.runId, e.seq);
      }
    }
    // Synchronous from the hold's removal to here: no published event can fall between.
    await socket.join(room);
    return { ok: true, runs };
  }

  const channel = eventsChannel(opts.prefix);
  const control = controlChannel(opts.prefix);
  await opts.subscriber.subscribe(channel, control);
  opts.subscriber.on('message', (ch: string, raw: string) => {
    if (ch === control) {
      try {
        const msg = JSON.parse(raw) as { type: string; tokenId?: string };
        if (msg.type === 'revoke' && msg.tokenId) {
          io.in(`token:${msg.tokenId}`).emit('revoked');
          io.in(`token:${msg.tokenId}`).disconnectSockets(true);
        }
      } catch {
        /* not ours */
      }
      return;
    }
    if (ch !== channel) return;
    let event: RunEventMessage;
    try {
      event = JSON.parse(raw) as RunEventMessage;
    } catch {
      return;
    }
    for (const hold of pending) hold(event);
    let target = io.to(`run:${event.runId}`).to(ALL_ROOM);
    if (event.projectKey) target = target.to(`project:${event.projectKey}`);
    target.emit('run-event', event);
  });

  return {
    io,
    async close() {
      await opts.subscriber.unsubscribe(channel, control).catch(() => undefined);
      // No disconnect packet: clients see a lost transport and reconnect (to this process when
      // it is back, or to another behind the load balancer), resuming from their cursors.
      // A server-side disconnect would tell Socket.IO clients never to reconnect.
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
