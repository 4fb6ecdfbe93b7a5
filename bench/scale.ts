import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { BENCH_REDIS, benchResources, cpuMsOf, freePort } from './util.js';
import { appProcess, memoryMiBOf, runMigrations, signInLinkOf, type AppProcess } from '../test/helpers/processes.js';
import { apiToken, sendStory, storyText } from '../test/helpers/scale.js';
import { startFakeAnthropic } from '../test/fakes/anthropic.js';

/**
 * `npm run bench -- scale`: stories per second with 1, 2 and 3 worker processes (one web process
 * taking the commands through the API), each on a fresh database and queue prefix, in two modes:
 * the offline generator (CPU-bound: the workers share this machine's cores) and a model that
 * answers in SCALE_MODEL_MS (default 500 ms; I/O-bound: what Claude-backed stories look like).
 * Also the figures the Kubernetes resource requests come from: each process's resident memory at
 * rest and at its peak, and its CPU time per story.
 *
 * SCALE_STORIES (default 120) stories per run; BENCH_BUILD=1 runs the compiled build.
 */

const STORIES = Number(process.env.SCALE_STORIES ?? 120);
const MODEL_MS = Number(process.env.SCALE_MODEL_MS ?? 500);
const CONCURRENCY = 8;
const STORY = 'Feature: Saved carts\n  As a shopper\n  I want to save my cart\n  So that I can buy later\n\n  Scenario: Save a cart\n    Given I have two items in my cart\n    When I save my cart\n    Then I see it under "Saved carts"\n';

interface Result {
  mode: string;
  workers: number;
  perSecond: number;
  seconds: number;
  /** Until the last command was acknowledged. */
  sendSeconds: number;
  /** Model requests per story. */
  modelCalls: number;
  web: { restMiB: number; peakMiB: number; cpuMsPerStory: number };
  worker: { restMiB: number; peakMiB: number; cpuMsPerStory: number };
}

async function runOnce(mode: 'offline' | 'model', workers: number, args: string[]): Promise<Result> {
  const res = await benchResources();
  const claude = mode === 'model' ? await startFakeAnthropic({ apiKey: 'sk-ant-bench', script: [{ text: STORY }], delayMs: MODEL_MS }) : undefined;
  const env: Record<string, string> = {
    DATABASE_URL: res.dbUrl,
    REDIS_URL: BENCH_REDIS,
    AUTODEVHUB_QUEUE_PREFIX: res.prefix,
    AUTODEVHUB_SECRET: 'scale-bench-secret-'.padEnd(48, 'x'),
    AUTODEVHUB_CONFIG: '',
    DATA_DIR: `/tmp/${res.prefix}`,
    LOG_LEVEL: 'warn',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    STORY_CACHE_TTL_SECONDS: '0',
    RATE_LIMIT_COMMANDS: '100000/1m',
    RATE_LIMIT_API: '100000/1m',
    ...(claude && { ANTHROPIC_API_KEY: 'sk-ant-bench', ANTHROPIC_BASE_URL: claude.url }),
  };
  const procs: AppProcess[] = [];
  const client = new pg.Client({ connectionString: res.dbUrl });
  try {
    runMigrations(env);
    const web = appProcess('web', await freePort(), env, { args });
    procs.push(web);
    await web.start();
    const ws = await Promise.all(Array.from({ length: workers }, async () => appProcess('worker', await freePort(), env, { args })));
    procs.push(...ws);
    await Promise.all(ws.map((w) => w.start()));
    await new Promise((r) => setTimeout(r, 1000));
    const rest = { web: memoryMiBOf(web.pid), worker: Math.max(...ws.map((w) => memoryMiBOf(w.pid))) };
    const base = `http://127.0.0.1:${web.port}`;
    const token = await apiToken(base, signInLinkOf(web.output())!, ['read', 'run']);
    await client.connect();
    const cpu0 = { web: cpuMsOf(web.pid), workers: ws.map((w) => cpuMsOf(w.pid)) };
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < STORIES) await sendStory(base, token, storyText(next++), '');
      }),
    );
    const sendSeconds = (performance.now() - started) / 1000;
    for (;;) {
      const r = await client.query<{ n: string }>(`select count(*) as n from workflow_runs where status in ('succeeded', 'failed', 'cancelled')`);
      if (Number(r.rows[0]!.n) >= STORIES) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const seconds = (performance.now() - started) / 1000;
    const failed = await client.query<{ n: string }>(`select count(*) as n from workflow_runs where status <> 'succeeded'`);
    if (failed.rows[0]!.n !== '0') throw new Error(`${failed.rows[0]!.n} runs did not succeed`);
    const workerCpu = ws.reduce((n, w, i) => n + cpuMsOf(w.pid) - cpu0.workers[i]!, 0);
    return {
      mode,
      workers,
      seconds,
      sendSeconds,
      modelCalls: claude ? claude.calls / STORIES : 0,
      perSecond: STORIES / seconds,
      web: { restMiB: rest.web, peakMiB: memoryMiBOf(web.pid, 'VmHWM'), cpuMsPerStory: (cpuMsOf(web.pid) - cpu0.web) / STORIES },
      worker: { restMiB: rest.worker, peakMiB: Math.max(...ws.map((w) => memoryMiBOf(w.pid, 'VmHWM'))), cpuMsPerStory: workerCpu / STORIES },
    };
  } finally {
    await client.end().catch(() => undefined);
    await Promise.all(procs.map((p) => p.stop('SIGTERM')));
    await claude?.close();
    await res.cleanup();
  }
}

export async function runScaleBench(): Promise<void> {
  const args = process.env.BENCH_BUILD ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
  console.log(`scale: ${STORIES} stories per run, WORKER_CONCURRENCY ${CONCURRENCY}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const modes = (process.env.SCALE_MODES ?? 'model,offline').split(',') as Array<'offline' | 'model'>;
  for (const mode of modes) {
    const results: Result[] = [];
    for (const n of [1, 2, 3]) {
      const r = await runOnce(mode, n, args);
      results.push(r);
      console.log(
        `${mode === 'model' ? `model ${MODEL_MS} ms` : 'offline generator'}, ${n} worker(s): ${r.perSecond.toFixed(1)} stories/s (${r.seconds.toFixed(1)} s, commands in by ${r.sendSeconds.toFixed(1)} s${r.modelCalls ? `, ${r.modelCalls.toFixed(1)} model calls/story` : ''}; ×${(r.perSecond / results[0]!.perSecond).toFixed(2)} of 1 worker) | ` +
          `web RSS ${r.web.restMiB.toFixed(0)} MiB at rest, peak ${r.web.peakMiB.toFixed(0)} MiB, ${r.web.cpuMsPerStory.toFixed(1)} ms CPU/story | ` +
          `worker RSS ${r.worker.restMiB.toFixed(0)} MiB at rest, peak ${r.worker.peakMiB.toFixed(0)} MiB, ${r.worker.cpuMsPerStory.toFixed(1)} ms CPU/story (all workers) | load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
}
