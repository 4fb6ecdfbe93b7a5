import { randomUUID } from 'node:crypto';
import { io as ioClient, type Socket } from 'socket.io-client';
import type { RunEventMessage } from '../../src/core/runs/model.js';

/** Shared by the multi-process test and `npm run bench -- scale`: commands and feeds as a client sees them. */

const FEATURES = ['save my cart', 'export my invoices', 'reset my password', 'share a report', 'mute a channel', 'archive old projects', 'invite a teammate', 'compare two plans'];

/** A story description of its own (no cache hit), well formed for the offline generator. */
export function storyText(i: number): string {
  return `story As customer number ${i} I want to ${FEATURES[i % FEATURES.length]} so that I save time on order ${1000 + i}`;
}

/** Signs in through a one-time link (POST, as the page's button does) and makes an API token with the given scopes. */
export async function apiToken(base: string, link: string, scopes: string[]): Promise<string> {
  const token = new URL(link).searchParams.get('token') ?? '';
  const signin = await fetch(`${base}/auth/signin`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' });
  if (signin.status !== 303) throw new Error(`sign-in failed: ${signin.status} ${await signin.text()}`);
  const cookie = signin.headers.get('set-cookie')!.split(';')[0]!;
  const res = await fetch(`${base}/api/v1/tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scale', scopes }) });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export interface Sent {
  ref: string;
  /** Attempts it took (a web process stopped under the first ones). */
  attempts: number;
  duplicates: number;
}

/**
 * POST /api/v1/commands with an Idempotency-Key, and again with the same key while the answer is
 * a gateway error or a dropped connection: a client that retries cannot make a second run.
 */
export async function sendStory(base: string, token: string, text: string, project = 'web'): Promise<Sent> {
  const key = randomUUID();
  let duplicates = 0;
  for (let attempt = 1; attempt <= 40; attempt++) {
    const res = await fetch(`${base}/api/v1/commands`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ text, ...(project && { project }) }),
    }).catch(() => undefined);
    if (res && (res.status === 202 || res.status === 200)) {
      const body = (await res.json()) as { run: { ref: string } | null; duplicate: boolean };
      if (body.duplicate) duplicates++;
      if (!body.run) throw new Error(`no run for ${text}: ${JSON.stringify(body)}`);
      return { ref: body.run.ref, attempts: attempt, duplicates };
    }
    // 502/503 (the process behind went away, or is not ready yet) and dropped connections: again.
    if (res && res.status !== 502 && res.status !== 503) throw new Error(`${text}: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 100 * Math.min(attempt, 5)));
  }
  throw new Error(`${text}: no answer after 40 attempts`);
}

/**
 * A live feed as the CLI follows one: WebSocket transport, reconnecting by itself, and on every
 * (re)connection subscribing again with the last seq it saw of each run.
 */
export interface Feed {
  socket: Socket;
  events: RunEventMessage[];
  connections: number;
  /** Last seq seen per run id. */
  cursors: Record<string, number>;
  close(): void;
}

export function followFeed(base: string, token: string): Promise<Feed> {
  const socket = ioClient(base, { transports: ['websocket'], auth: { token }, reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0 });
  const feed: Feed = { socket, events: [], connections: 0, cursors: {}, close: () => socket.close() };
  socket.on('run-event', (e: RunEventMessage) => {
    feed.events.push(e);
    feed.cursors[String(e.runId)] = Math.max(feed.cursors[String(e.runId)] ?? 0, e.seq);
  });
  return new Promise((resolve, reject) => {
    socket.on('connect', () => {
      feed.connections++;
      socket.emit('subscribe', { project: '*', cursors: { ...feed.cursors } }, (reply: { ok: boolean; error?: string }) => {
        if (!reply.ok) reject(new Error(`subscribe: ${reply.error}`));
        else if (feed.connections === 1) resolve(feed);
      });
    });
    socket.once('connect_error', (err) => {
      if (feed.connections === 0) reject(err);
    });
  });
}

/** Per run id: the seqs a feed received, in arrival order. */
export function seqsByRun(events: RunEventMessage[]): Map<number, number[]> {
  const by = new Map<number, number[]>();
  for (const e of events) by.set(e.runId, [...(by.get(e.runId) ?? []), e.seq]);
  return by;
}
