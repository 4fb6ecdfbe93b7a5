import { spawn, spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm start` with nothing set, on a machine with no Postgres and no Redis running: the whole
 * first run happens in a private network namespace (test/scripts/first-run.ts), where nothing
 * listens on 5432 or 6379, so the data can only be in PGlite and Redis can only be the private one.
 */
const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { encoding: 'utf8' });
const unshareMissing = probe.error || probe.status !== 0 ? `unshare -n is not available here (${probe.error?.message ?? probe.stderr.trim()}); needs root and util-linux` : undefined;

function runInNamespace(): Promise<{ code: number | null; results: Record<string, any>; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" --import tsx test/scripts/first-run.ts`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      const results: Record<string, any> = {};
      for (const m of output.matchAll(/^RESULT (\w+) (.*)$/gm)) results[m[1]!] = JSON.parse(m[2]!);
      resolve({ code, results, output });
    });
  });
}

describe.skipIf(unshareMissing)(`a first run with nothing installed but redis-server${unshareMissing ? ` (skipped: ${unshareMissing})` : ''}`, () => {
  let run: Awaited<ReturnType<typeof runInNamespace>>;
  beforeAll(async () => {
    run = await runInNamespace();
  }, 300_000);

  it('keeps every row in PGlite under DATA_DIR, runs a private Redis, and survives a restart', () => {
    const { code, results: r, output } = run;
    expect(code, output).toBe(0);
    expect(r.listening).toEqual({ postgres5432: false, redis6379: false });

    expect(r.firstStory).toMatchObject({ ref: 'R-1001', status: 'succeeded', generator: 'offline' });
    expect(r.firstLog).toEqual({ privateRedis: true, embedded: true });
    // Stopped cleanly by Ctrl-C (SIGINT to its process group), and took its private Redis with it.
    expect(r.firstStop).toEqual({ code: 0, privateRedisStillAnswers: false, errorsWhileStopping: [] });

    expect(r.afterRestart.firstRun).toBe('succeeded');
    // R-1002 was written while a second start was refused (below).
    expect(r.afterRestart.secondStory).toMatchObject({ ref: 'R-1003', status: 'succeeded' });
    expect(r.secondStop.code).toBe(0);

    // Read back from the PGlite folder after the server stopped.
    expect(r.pglite.runs).toEqual([
      { number: 1001, kind: 'story', status: 'succeeded' },
      { number: 1002, kind: 'story', status: 'succeeded' },
      { number: 1003, kind: 'story', status: 'succeeded' },
    ]);
    expect(r.pglite.stories).toBe(3);
    expect(r.pglite.appendOnlyFile).toBe(true);
  });

  it('npm run signin-link while the server holds the embedded database says what to do', () => {
    const { signinLinkWhileRunning: cli } = run.results;
    expect(cli.code, cli.output).toBe(75);
    expect(cli.output).toMatch(/AutoDevHub is running \(process \d+\) on the embedded database in /);
    expect(cli.output).toMatch(/stop it \(Ctrl-C\) and run npm run signin-link again/);
  });

  it('a second start on the same DATA_DIR is refused and leaves the running one and its Redis alone', () => {
    const { secondStartWhileRunning: twin } = run.results;
    expect(twin.code, twin.output).toBe(75);
    expect(twin.output).toMatch(/the embedded database in .* is in use by process \d+/);
    expect(twin.output).toMatch(/using the private Redis of process \d+ \(same DATA_DIR\)/);
    expect([twin.firstStillReady, twin.firstStillRuns]).toEqual([true, 'succeeded']);
  });

  it('without redis-server on the PATH, exits at once saying how to get Redis', () => {
    const { noRedisServer } = run.results;
    expect(noRedisServer.code, run.output).toBe(69);
    expect(noRedisServer.output).toMatch(/AutoDevHub cannot start: AutoDevHub needs Redis 6\.2 or newer\./);
    expect(noRedisServer.output).toMatch(/apt-get install redis-server/);
    expect(noRedisServer.output).toMatch(/docker run -d --name autodevhub-redis -p 127\.0\.0\.1:6379:6379 redis:7/);
  });

  it('never replaces an explicit REDIS_URL with a private Redis', () => {
    const { explicitRedisUrl } = run.results;
    expect(explicitRedisUrl.code, run.output).toBe(69);
    expect(explicitRedisUrl.output).toMatch(/REDIS_URL: nothing answers at redis:\/\/127\.0\.0\.1:6390/);
    expect(explicitRedisUrl.privateRedisDir).toBe(false);
  });
});
