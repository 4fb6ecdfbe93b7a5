import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createTestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { removeRedisKeys, waitFor } from '../helpers/app.js';
import { tempDir, testPrefix } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});


describe('the process (npm start)', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('stops on %s within 10 s, exit code 0', async (signal) => {
    const port = await freePort();
    const prefix = testPrefix();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: db.url,
        REDIS_URL: TEST_REDIS_URL,
        AUTODEVHUB_QUEUE_PREFIX: prefix,
        DATA_DIR: tempDir('shutdown'),
        AUTODEVHUB_SECRET: 'x'.repeat(40),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Also when the test fails: no server left running, writing keys after they were removed.
    onTestFinished(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      await removeRedisKeys(prefix);
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 50_000, 'the server to be ready');
    expect(out).toContain('One-time sign-in link');
    const started = Date.now();
    child.kill(signal);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 60_000);

  it('refuses to start with invalid configuration, naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', DATA_DIR: tempDir('badcfg') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(78);
    expect(err).toMatch(/AutoDevHub cannot start: Invalid configuration: PORT/);
  }, 30_000);
});
