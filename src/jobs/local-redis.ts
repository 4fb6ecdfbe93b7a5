import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isAlive } from '../core/pid.js';

/** Where Redis is looked for when REDIS_URL is unset. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** No Redis, and none can be started here: the message says how to get one. */
export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

export interface LocalRedis {
  /** A redis:// URL or the path of a unix socket (ioredis takes both). */
  url: string;
  /** Set when this process runs (or took over) a private redis-server. */
  stop?(): Promise<void>;
}

/** Whether a Redis answers PING at `url` within `timeoutMs`, without retrying. */
export async function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export function findOnPath(binary: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const HOW_TO_GET_REDIS =
  'AutoDevHub needs Redis 6.2 or newer. Nothing answers on 127.0.0.1:6379 and redis-server is not installed. ' +
  'Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and run npm start again: ' +
  'AutoDevHub then runs a private Redis under DATA_DIR. Or run one in Docker: ' +
  'docker run -d --name autodevhub-redis -p 127.0.0.1:6379:6379 redis:7 redis-server --appendonly yes --maxmemory-policy noeviction ' +
  '(the redis of docker-compose.yml is not published on the host). Or point REDIS_URL at yours.';

/**
 * REDIS_URL unset: the Redis on 127.0.0.1:6379 if one answers; else a private redis-server of this
 * process (socket and append-only file under DATA_DIR/redis, noeviction, no TCP port), stopped on
 * exit; else a clear refusal. An explicit REDIS_URL never reaches this function.
 */
export async function resolveLocalRedis(opts: { dataDir: string; logger: Logger; path?: string }): Promise<LocalRedis> {
  if (await redisAnswers(DEFAULT_REDIS_URL)) {
    opts.logger.info(`REDIS_URL is not set: using the Redis on ${DEFAULT_REDIS_URL}`);
    return { url: DEFAULT_REDIS_URL };
  }
  const binary = findOnPath('redis-server', opts.path);
  if (!binary) throw new RedisUnavailableError(HOW_TO_GET_REDIS);
  return startPrivateRedis(binary, opts.dataDir, opts.logger);
}

async function startPrivateRedis(binary: string, dataDir: string, logger: Logger): Promise<LocalRedis> {
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Unix socket paths are limited to ~107 bytes; a deep DATA_DIR gets a short temp folder.
  const inDataDir = join(dir, 'redis.sock');
  const tempDir = Buffer.byteLength(inDataDir) > 100 ? mkdtempSync(join(tmpdir(), 'adh-redis-')) : undefined;
  const socket = tempDir ? join(tempDir, 'redis.sock') : inDataDir;
  const ownerFile = join(dir, 'owner.pid');
  if (existsSync(socket) && (await redisAnswers(socket))) {
    const owner = Number(existsSync(ownerFile) ? readFileSync(ownerFile, 'utf8').trim() : 0);
    if (owner && owner !== process.pid && isAlive(owner)) {
      // Another AutoDevHub on this DATA_DIR runs it: used, never stopped, by this one.
      logger.info({ socket, owner }, `REDIS_URL is not set: using the private Redis of process ${owner} (same DATA_DIR)`);
      return { url: socket };
    }
    // Left running by an earlier start that could not stop it (killed): take it over.
    writeFileSync(ownerFile, String(process.pid), { mode: 0o600 });
    logger.info({ socket }, 'REDIS_URL is not set: using the private Redis left running in DATA_DIR');
    return { url: socket, stop: () => shutdown(socket).finally(() => rmSync(ownerFile, { force: true })) };
  }
  rmSync(socket, { force: true });
  const child = spawn(
    binary,
    ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--appendonly', 'yes',
      '--maxmemory-policy', 'noeviction', '--save', '', '--daemonize', 'no', '--logfile', join(dir, 'redis.log')],
    // A process group of its own: Ctrl-C in the terminal reaches AutoDevHub, which then stops
    // Redis after its own connections are closed, not Redis first.
    { stdio: 'ignore', detached: true },
  );
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  try {
    await waitForSocket(child, socket, join(dir, 'redis.log'));
  } catch (err) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(ownerFile, String(process.pid), { mode: 0o600 });
  logger.info({ dir, redisPid: child.pid }, 'REDIS_URL is not set and nothing answers on 127.0.0.1:6379: started a private Redis');
  return {
    url: socket,
    async stop() {
      process.off('exit', killOnExit);
      await stopChild(child);
      rmSync(ownerFile, { force: true });
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

async function waitForSocket(child: ChildProcess, socket: string, logFile: string): Promise<void> {
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    if (existsSync(socket) && (await redisAnswers(socket, 500))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
  throw new RedisUnavailableError(`the private redis-server did not start (${exited !== undefined ? `exit code ${exited}` : 'no answer in 10 s'}). ${log}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGTERM: redis-server flushes the append-only file and exits.
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function shutdown(socket: string): Promise<void> {
  const redis = new Redis(socket, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  await redis.shutdown().catch(() => undefined);
  redis.disconnect();
}

