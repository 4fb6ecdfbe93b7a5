import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Redis } from 'ioredis';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { RunEventMessage } from '../core/runs/model.js';
import { findRunById, findRunByRef, missedEvents, recentRuns } from '../core/runs/queries.js';
import type { RunSummary } from '../core/runs/model.js';
import { eventsChannel } from './publisher.js';
import { accessChangedElsewhere } from '../core/access/epoch.js';

/** Who a socket is, decided once at the handshake; undefined refuses the connection. */
export interface SocketPrincipal {
  subject: string;
  /** undefined: every project (an admin's console); otherwise only this project. */
  projectKey?: string;
  /** A widget token's id, or `api:<id>` for an API token: revoking it disconnects the sockets that used it. */
  tokenId?: string;
  /** An API token's scopes (the CLI): the socket acts as the token, never with more. */
  scopes?: string[];
  /** A console session's id: ending it disconnects the sockets that used it. */
  sessionId?: number;
}

/** What a session may subscribe to, decided by core's access check (widget tokens carry their project). */
export interface SubscriptionAccess {
  canReadRun(principal: SocketPrincipal, run: RunSummary): Promise<boolean>;
  /** Project keys the principal may read; undefined: all (admins). */
  readableProjects(principal: SocketPrincipal): Promise<string[] | undefined>;
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
  access: SubscriptionAccess;
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

/** Why a subscribe request cannot be served as sent, in words; undefined when it can. */
function malformedSubscription(req: SubscribeRequest): string | undefined {
  if (typeof req !== 'object' || req === null) return 'subscribe with an object: { run } or { project }';
  if (req.run !== undefined && typeof req.run !== 'string' && typeof req.run !== 'number') return 'run is a reference like R-1042 or a run id';
  if (req.project !== undefined && typeof req.project !== 'string') return 'project is a project key, or "*"';
  if (req.cursors === undefined) return undefined;
  if (typeof req.cursors !== 'object' || req.cursors === null || Array.isArray(req.cursors)) return 'cursors is an object of run id to the last seq seen, e.g. { "1042": 7 }';
  for (const [id, seq] of Object.entries(req.cursors)) {
    if (!/^\d{1,12}$/.test(id) || !Number.isSafeInteger(seq) || seq < 0) return 'cursors is an object of run id to the last seq seen, e.g. { "1042": 7 }';
  }
  return undefined;
}

/** What a socket subscribed to, per room: re-checked when access changes. */
type Subscription = { kind: 'all' } | { kind: 'project'; key: string } | { kind: 'run'; run: RunSummary };

function subscriptionsOf(socket: Socket): Map<string, Subscription> {
  return ((socket.data as { subs?: Map<string, Subscription> }).subs ??= new Map());
}

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
    if (principal.sessionId) void socket.join(`session:${principal.sessionId}`);
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
    const malformed = malformedSubscription(req);
    if (malformed) return { ok: false, error: malformed };
    const em = opts.em();
    let rooms: string[];
    let runs: RunSummary[];
    let accepts: (e: RunEventMessage) => boolean;
    const readable = principal.projectKey ? [principal.projectKey] : await opts.access.readableProjects(principal);
    if (req.run !== undefined) {
      const run = typeof req.run === 'number' ? await findRunById(em, req.run) : await findRunByRef(em, String(req.run));
      const allowed = run && (principal.projectKey ? run.projectKey === principal.projectKey : await opts.access.canReadRun(principal, run));
      if (!run || !allowed) return { ok: false, error: 'no such run' };
      rooms = [`run:${run.id}`];
      runs = [run];
      accepts = (e) => e.runId === run.id;
    } else if (req.project && req.project !== '*') {
      if (readable && !readable.includes(req.project)) return { ok: false, error: 'not allowed for this project' };
      rooms = [`project:${req.project}`];
      runs = await recentRuns(em, { projectKey: req.project, limit: 50 });
      accepts = (e) => e.projectKey === req.project;
    } else {
      if (principal.projectKey) return { ok: false, error: 'this token is limited to one project' };
      // Everything for admins; for others, every project they may read.
      rooms = readable ? readable.map((k) => `project:${k}`) : [ALL_ROOM];
      runs = readable ? (readable.length ? await recentRuns(em, { projectKeys: readable, limit: 50 }) : []) : await recentRuns(em, { limit: 50 });
      accepts = readable ? (e) => Boolean(e.projectKey && readable.includes(e.projectKey)) : () => true;
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
        for (const e of await missedEvents(em, run, after)) {
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
    await socket.join(rooms);
    const subs = subscriptionsOf(socket);
    for (const room of rooms) {
      subs.set(room, room === ALL_ROOM ? { kind: 'all' } : room.startsWith('run:') ? { kind: 'run', run: runs[0]! } : { kind: 'project', key: room.slice('project:'.length) });
    }
    return { ok: true, runs };
  }

  /**
   * After a role, identity or channel-link change anywhere: every socket keeps only the rooms its
   * person may still read (widget sockets are bound by their token, which revocation ends).
   */
  async function recheckSubscriptions(): Promise<void> {
    for (const socket of io.sockets.sockets.values()) {
      const principal = socket.data.principal as SocketPrincipal;
      const subs = subscriptionsOf(socket);
      if (principal.projectKey || subs.size === 0) continue;
      try {
        const readable = await opts.access.readableProjects(principal);
        const left: string[] = [];
        for (const [room, sub] of subs) {
          const allowed = sub.kind === 'all' ? readable === undefined : sub.kind === 'project' ? !readable || readable.includes(sub.key) : await opts.access.canReadRun(principal, sub.run);
          if (allowed) continue;
          await socket.leave(room);
          subs.delete(room);
          left.push(room);
        }
        if (left.length) socket.emit('access-lost', { rooms: left });
      } catch (err) {
        opts.logger.warn({ err }, 'could not re-check a socket after an access change; disconnecting it');
        socket.disconnect(true);
      }
    }
  }
  const recheckTimers = new Set<NodeJS.Timeout>();
  function accessChangedSomewhere() {
    accessChangedElsewhere();
    void recheckSubscriptions();
    // Once more a second later: a write announced before its transaction committed is seen then.
    const later = setTimeout(() => {
      recheckTimers.delete(later);
      void recheckSubscriptions();
    }, 1000);
    later.unref();
    recheckTimers.add(later);
  }

  const channel = eventsChannel(opts.prefix);
  const control = controlChannel(opts.prefix);
  await opts.subscriber.subscribe(channel, control);
  opts.subscriber.on('message', (ch: string, raw: string) => {
    if (ch === control) {
      try {
        const msg = JSON.parse(raw) as { type: string; tokenId?: string; sessionIds?: number[] };
        if (msg.type === 'revoke' && msg.tokenId) {
          io.in(`token:${msg.tokenId}`).emit('revoked');
          io.in(`token:${msg.tokenId}`).disconnectSockets(true);
        }
        if (msg.type === 'access-changed') accessChangedSomewhere();
        if (msg.type === 'sessions-ended' && Array.isArray(msg.sessionIds)) {
          const rooms = msg.sessionIds.map((id) => `session:${Number(id)}`);
          if (rooms.length) {
            io.in(rooms).emit('revoked');
            io.in(rooms).disconnectSockets(true);
          }
        }
      } catch {
        /* not ours */
      }
      return;
    }
    if (ch !== channel) return;
    let events: RunEventMessage[];
    try {
      const parsed = JSON.parse(raw) as RunEventMessage | RunEventMessage[];
      events = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      return;
    }
    // One message at a time, in arrival order: filling a gap reads the database.
    relaying = relaying.then(() => relay(events)).catch((err: unknown) => opts.logger.warn({ err: (err as Error).message }, 'could not relay run events'));
  });

  /**
   * The last seq relayed per run (bounded): a publish that never came (its process died between
   * the commit and the publish) shows as a gap, filled from the database before the event after
   * it, so a live feed is gap-free without waiting for a reconnect. Late or repeated events are
   * dropped: what they carry was sent already.
   */
  const relayed = new Map<number, number>();
  let relaying: Promise<void> = Promise.resolve();
  async function relay(events: RunEventMessage[]): Promise<void> {
    for (const event of events) {
      const last = relayed.get(event.runId);
      if (last !== undefined && event.seq <= last) continue;
      let fill: RunEventMessage[] = [];
      if (last !== undefined && event.seq > last + 1) {
        const run = await findRunById(opts.em(), event.runId);
        if (run) fill = (await missedEvents(opts.em(), run, last)).filter((e) => e.seq < event.seq);
      }
      relayed.delete(event.runId);
      relayed.set(event.runId, event.seq);
      if (relayed.size > 10_000) relayed.delete(relayed.keys().next().value!);
      for (const e of [...fill, event]) emitEvent(e);
    }
  }
  function emitEvent(event: RunEventMessage): void {
    for (const hold of pending) hold(event);
    const targets = [`run:${event.runId}`, ALL_ROOM, ...(event.projectKey ? [`project:${event.projectKey}`] : [])];
    // Nobody here follows it: nothing to encode or send.
    if (!targets.some((room) => io.sockets.adapter.rooms.has(room))) return;
    io.to(targets).emit('run-event', event);
  }

  return {
    io,
    async close() {
      for (const timer of recheckTimers) clearTimeout(timer);
      await opts.subscriber.unsubscribe(channel, control).catch(() => undefined);
      // No disconnect packet: clients see a lost transport and reconnect (to this process when
      // it is back, or to another behind the load balancer), resuming from their cursors.
      // A server-side disconnect would tell Socket.IO clients never to reconnect.
      await new Promise<void>((resolve) => io.close(() => resolve()));
    },
  };
}
