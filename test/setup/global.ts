import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { findOnPath, HOW_TO_GET_REDIS, redisAnswers } from '../../src/jobs/local-redis.js';
import { freePort } from '../helpers/ports.js';
import { postgresAnswers } from '../helpers/private-postgres.js';

/**
 * Once per `npm test`: real Postgres and Redis wherever they answer (CI starts them); otherwise
 * PGlite test databases (test/helpers/db.ts) and a private redis-server, so the suite also runs
 * on a machine where nothing was installed by hand. Every temporary folder of the run lives in
 * one folder of its own and every Redis key under one prefix stem: at the end, anything a test
 * left behind is listed and fails the run.
 */
export default async function setup() {
  const run = randomBytes(4).toString('hex');
  const suiteTmp = mkdtempSync(join(tmpdir(), `adh-suite-${run}-`));
  // Others may pass through (a test runs the server as nobody in a folder of its own).
  chmodSync(suiteTmp, 0o711);
  process.env.TMPDIR = suiteTmp;
  process.env.ADH_TEST_RUN = run;

  const pgUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  if (!(await postgresAnswers(pgUrl, 2000))) {
    process.env.ADH_TEST_PGLITE = '1';
    console.log(`[test setup] no Postgres answers at ${pgUrl}: test databases are PGlite instances`);
  }

  let redisServer: ChildProcess | undefined;
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) {
    process.env.TEST_REDIS_URL = redisUrl;
  } else {
    const started = await startRedis(suiteTmp);
    redisServer = started.child;
    process.env.TEST_REDIS_URL = started.url;
    console.log(`[test setup] no Redis answers at ${redisUrl}: using a private redis-server at ${started.url}`);
  }

  return async function teardown() {
    const leftovers = await findLeftovers(suiteTmp, process.env.TEST_REDIS_URL!, `adhtest-${run}`);
    if (redisServer) {
      redisServer.kill('SIGTERM');
      await new Promise((r) => redisServer!.once('exit', r));
    }
    rmSync(suiteTmp, { recursive: true, force: true });
    if (leftovers.length) {
      console.error(`\n[test teardown] FAILED: the tests left these behind (removed now):\n  ${leftovers.join('\n  ')}\n`);
      process.exitCode = 1;
    }
  };
}


async function findLeftovers(suiteTmp: string, redisUrl: string, stem: string): Promise<string[]> {
  const found = readdirSync(suiteTmp)
    .filter((name) => name.startsWith('adh-'))
    .map((name) => `folder ${join(suiteTmp, name)}`);
  const redis = new Redis(redisUrl);
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${stem}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length) await redis.del(...keys);
    found.push(...keys.sort().map((k) => `Redis key ${k}`));
  } finally {
    await redis.quit();
  }
  return found;
}


async function startRedis(suiteTmp: string): Promise<{ child: ChildProcess; url: string }> {
  const binary = findOnPath('redis-server');
  if (!binary) throw new Error(`the tests need Redis. ${HOW_TO_GET_REDIS}`);
  const port = await freePort();
  const dir = join(suiteTmp, 'redis-server');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(url, 500))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`could not start redis-server on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url };
}
