import { spawn, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { consoleRun, startTestApp, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { tempDir, testPrefix } from '../helpers/tmp.js';
import { removeRedisKeys } from '../helpers/app.js';

/** `npm start`'s process, through a pseudo-terminal (`script`) or a pipe; resolves once it listens. */
async function startProcess(db: TestDatabase, prefix: string, terminal: boolean): Promise<string> {
  const port = 0;
  const cmd = [process.execPath, '--import', 'tsx', 'src/main.ts'];
  const child = terminal
    ? spawn('script', ['-qfec', cmd.join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] as const, env: envFor(db, prefix, port) })
    : spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: envFor(db, prefix, port) });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    await waitFor(() => out.includes('One-time sign-in link'), 45_000, `the server to start: ${out}`);
  } finally {
    // `script` passes a terminal's Ctrl-C on to the server.
    if (terminal) child.stdin!.write('\x03');
    else child.kill('SIGTERM');
    await exited;
  }
  return out;
}

function envFor(db: TestDatabase, prefix: string, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    AUTODEVHUB_QUEUE_PREFIX: prefix,
    AUTODEVHUB_CONFIG: config,
    DATA_DIR: tempDir('startup-log'),
    AUTODEVHUB_SECRET: 'x'.repeat(40),
    LOG_LEVEL: 'info',
  };
}

let db: TestDatabase;
let config: string;
const prefix = testPrefix();
beforeAll(async () => {
  db = await createTestDatabase();
  config = writeProjectsConfig();
});
afterAll(async () => {
  await removeRedisKeys(prefix);
  await db?.drop();
});

const hasScript = spawnSync('script', ['--version']).status === 0;

describe('the first lines of npm start', () => {
  it('as JSON lines through a pipe: the config file, its projects, the platforms, GitHub said once', async () => {
    const out = await startProcess(db, prefix, false);
    // Every line parses, the sign-in link included (jq must not stop at a plain line).
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; configFile?: string; projects?: string[]; signInLink?: string });
    expect(lines.find((l) => l.signInLink)?.signInLink).toMatch(/^http:\/\/.+\/auth\/signin\?token=[\w-]{20,}$/);
    const file = lines.find((l) => l.configFile);
    expect(file).toMatchObject({ configFile: config, projects: ['web', 'api'], msg: `read ${config}: 2 project(s)` });
    expect(lines.map((l) => l.msg)).toContain('no chat platform configured: use the web console');
    expect(lines.filter((l) => l.msg.includes('GitHub is not configured'))).toHaveLength(1);
  }, 60_000);

  it.skipIf(!hasScript)('human-readable on a terminal', async () => {
    const out = (await startProcess(db, prefix, true)).replace(/\x1b\[[0-9;]*m/g, '');
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: read .*autodevhub\.yaml: 2 project\(s\)/m);
    expect(out).not.toMatch(/^\{"level"/m);
  }, 60_000);
});

describe('the chat job waiting for its lock', () => {
  let t: TestApp;
  const lines: Array<{ level: number; msg: string; err?: string; queue?: string }> = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    t = await startTestApp({}, { logger: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('is folded into the render that holds the lock (marked dirty, rendered once more), not logged as a warning', async () => {
    // Another render of run 1 holds its lock: the chat job leaves it to that render.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.set(`${t.prefix}:lock:chat-run:1`, 'someone-else', 'PX', 1500);
      const done = await consoleRun(t, await t.signIn(), 'story As a shopper I want to save my cart so that I can buy later');
      expect(done.run.status).toBe('succeeded');
      await waitFor(async () => (await redis.exists(`${t.prefix}:lock:chat-run:1:dirty`)) === 1, 10_000, 'the chat job to meet the lock');
      expect(lines.filter((l) => l.level >= 40 && l.queue === 'chat')).toEqual([]);
    } finally {
      await redis.quit();
    }
  });
});
