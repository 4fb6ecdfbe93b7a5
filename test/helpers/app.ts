import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { io as ioClient, type Socket } from 'socket.io-client';
import { loadConfig, secretsOf } from '../../src/core/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startAutoDevHub, type Running, type StartOptions } from '../../src/app.js';
import type { RunEventMessage } from '../../src/core/runs/model.js';
import { createTestDatabase } from './db.js';
import { TEST_REDIS_URL } from './env.js';
import { tempDir, testPrefix } from './tmp.js';

export const TEST_SECRET = 'test-secret-'.padEnd(48, 'x');

export interface TestApp {
  app: Running;
  url: string;
  prefix: string;
  databaseUrl: string;
  env: Record<string, string>;
  /** Signs in through the one-time link, as a person would; returns the session cookie. */
  signIn(): Promise<string>;
  /** Restarts the process part (same database, queue prefix and env), as after a crash. */
  restart(opts?: StartOptions): Promise<void>;
  /** Stops it and removes its database, folder and Redis keys (`keepRedis`: leaves the keys, for a successor on the same prefix). */
  stop(opts?: { keepRedis?: boolean }): Promise<void>;
}

/**
 * The real server, on a database and a queue prefix of its own, against the machine's Postgres
 * and Redis. Outside services are given as env (base URLs of local fakes).
 */
export async function startTestApp(env: Record<string, string> = {}, opts: StartOptions = {}, share?: TestApp): Promise<TestApp> {
  // A part joining `share` (another web or worker process) uses its database, prefix and data.
  // DATABASE_URL given: the caller owns that database ('' is the embedded one).
  const db = share || env.DATABASE_URL !== undefined ? undefined : await createTestDatabase();
  const prefix = share?.prefix ?? env.AUTODEVHUB_QUEUE_PREFIX ?? testPrefix();
  const dataDir = share?.env.DATA_DIR ?? tempDir('test-data');
  const fullEnv: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: TEST_REDIS_URL,
    AUTODEVHUB_SECRET: TEST_SECRET,
    AUTODEVHUB_QUEUE_PREFIX: prefix,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKER_CONCURRENCY: '4',
    ...(db && { DATABASE_URL: db.url }),
    ...(share && { DATABASE_URL: share.databaseUrl, AUTODEVHUB_CONFIG: share.env.AUTODEVHUB_CONFIG ?? '' }),
    ...env,
  };
  if (env.DATABASE_URL === '') delete fullEnv.DATABASE_URL;
  const start = async (o: StartOptions) => {
    const config = loadConfig(fullEnv);
    const logger = o.logDestination ? undefined : createLogger(fullEnv.LOG_LEVEL!, { secrets: secretsOf(config) });
    const app = await startAutoDevHub(config, { announce: false, ...(logger && { logger }), shutdownGraceMs: 3000, ...o });
    // PUBLIC_URL defaults to the configured port; with port 0 the real one is known only now.
    if (!fullEnv.PUBLIC_URL && app.port) config.publicUrl = `http://127.0.0.1:${app.port}`;
    return app;
  };
  let app = await start(opts);
  const t: TestApp = {
    app,
    url: app.url ?? '',
    prefix,
    databaseUrl: db?.url ?? share?.databaseUrl ?? env.DATABASE_URL ?? '',
    env: fullEnv,
    async signIn() {
      if (!app.signInUrl) throw new Error('this part has no web server');
      const res = await pressSignIn(app.signInUrl.replace(/^http:\/\/[^/]+/, t.url));
      if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
      return res.headers.get('set-cookie')!.split(';')[0]!;
    },
    async restart(o = {}) {
      await app.close();
      app = await start({ ...opts, ...o });
      t.app = app;
      t.url = app.url ?? t.url;
    },
    async stop(o = {}) {
      await app.close();
      if (share) return; // the first part cleans up what they share
      if (!o.keepRedis) await removeRedisKeys(prefix);
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Removes every Redis key of a test prefix (queues, their meta keys, cache, locks). */
export async function removeRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}

/** A project config file for tests: projects web and api, each linked to a Slack channel. */
export function writeProjectsConfig(): string {
  const dir = tempDir('test-config');
  const file = join(dir, 'autodevhub.yaml');
  writeFileSync(
    file,
    ['admins: ["slack:U0ADMIN"]', 'projects:', '  - key: web', '    repo: acme/web', '    channels: ["slack:C0WEB"]', '  - key: api', '    repo: acme/api', '    channels: ["slack:C0API"]', ''].join('\n'),
  );
  return file;
}

/** A Socket.IO client that records every run event it receives. */
export async function connectFeed(
  url: string,
  cookie: string | undefined,
  opts: { token?: string; origin?: string } = {},
): Promise<{ socket: Socket; events: RunEventMessage[] }> {
  const headers: Record<string, string> = {};
  if (cookie) headers.cookie = cookie;
  if (opts.origin) headers.origin = opts.origin;
  const socket = ioClient(url, {
    transports: ['websocket'],
    reconnection: false,
    extraHeaders: headers,
    ...(opts.token && { auth: { token: opts.token } }),
  });
  const events: RunEventMessage[] = [];
  socket.on('run-event', (e: RunEventMessage) => events.push(e));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(err));
  });
  return { socket, events };
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunDetail {
  run: { ref: string; status: string; error: string | null };
  story: Record<string, any> | null;
  events: Array<{ stage: string; message: string; status: string }>;
}

/** Types a command in the console (signed in) and waits for the run it queued to finish. */
export async function consoleRun(t: TestApp, cookie: string, text: string, timeoutMs = 25_000, project?: string): Promise<RunDetail> {
  const res = await fetch(`${t.url}/api/v1/commands`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ text, ...(project && { project }) }),
  });
  if (res.status !== 202) throw new Error(`the command was not queued: ${res.status} ${await res.text()}`);
  const { run } = (await res.json()) as { run: { ref: string } };
  return waitFor(async () => {
    const body = (await (await fetch(`${t.url}/api/v1/runs/${run.ref}`, { headers: { cookie } })).json()) as RunDetail;
    return ['succeeded', 'failed', 'cancelled', 'needs_input'].includes(body.run.status) && body;
  }, timeoutMs, `${run.ref} to finish`);
}

/** What the button on a one-time sign-in link's page does: POST the link's token (opening the link alone uses nothing up). */
export function pressSignIn(link: string): Promise<Response> {
  const url = new URL(link);
  return fetch(`${url.origin}/auth/signin`, { method: 'POST', body: new URLSearchParams({ token: url.searchParams.get('token') ?? '' }), redirect: 'manual' });
}
