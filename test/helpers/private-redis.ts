import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export { freePort };


export const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/**
 * A Redis server of this test's own, on its own port, keeping nothing on disk: killing it and
 * starting it again is Redis coming back empty, as after a restart without persistence.
 */
export async function startPrivateRedis() {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      const ok = await probe.connect().then(() => probe.ping(), () => undefined);
      probe.disconnect();
      if (ok === 'PONG') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on ${port} did not start`);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** Gone at once, as in a crash: nothing is saved. */
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await exited;
    },
    /** Starts again on the same port, empty. */
    start,
    async stop() {
      await this.kill();
    },
  };
}
