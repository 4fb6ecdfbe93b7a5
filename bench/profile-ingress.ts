/**
 * `npm run bench -- profile-ingress`: runs AutoDevHub's web role under `node --cpu-prof` while
 * signed slash commands are fired at it, and prints where the CPU time went (self time by
 * function and by package). The .cpuprofile is kept for a flame graph (Chrome DevTools, speedscope).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appArgs, BENCH_REDIS as REDIS, benchResources, freePort } from './util.js';
import { fire } from './ingress.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export async function runIngressProfile(): Promise<void> {
  const dir = join(process.cwd(), 'bench', 'results', `profile-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const resources = await benchResources();
  const port = await freePort();
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, ...appArgs()], {
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: resources.dbUrl,
      REDIS_URL: REDIS,
      AUTODEVHUB_ROLE: 'web',
      AUTODEVHUB_QUEUE_PREFIX: resources.prefix,
      RATE_LIMIT_COMMANDS: '1000000/1m',
      AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'),
      SLACK_SIGNING_SECRET: 'bench-signing-secret-0123456789abcdef',
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; i < 150; i++) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await fire('warm-up', `http://127.0.0.1:${port}`, 2);
    const figures = await fire('profiled', `http://127.0.0.1:${port}`, Number(process.env.BENCH_DURATION ?? 10));
    console.log(`profiled run: ${figures.throughput.toFixed(0)} req/s, p50 ${figures.p50} ms, p99 ${figures.p99} ms`);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    await resources.cleanup();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  summarise(steadyState(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile, Number(process.env.BENCH_DURATION ?? 10)));
  console.log(`\nprofile: ${join(dir, file)}`);
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Only the samples of the measured window (the last seconds before the stop): no start-up, no warm-up. */
function steadyState(profile: Profile, seconds: number): Profile & { window: number[] } {
  const times: number[] = [];
  let t = 0;
  for (const d of profile.timeDeltas) times.push((t += d));
  const end = times.at(-1) ?? 0;
  const from = end - seconds * 1e6;
  const window = profile.samples.filter((_, i) => times[i]! >= from && times[i]! <= end - 300_000);
  return { ...profile, window };
}

function packageOf(url: string): string {
  if (!url) return '(native/gc)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node core';
  return /\/src\//.test(url) ? `autodevhub ${url.split('/src/')[1]}` : url;
}

function summarise(profile: Profile & { window: number[] }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${packageOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const busy = profile.window.filter((id) => byId.get(id)!.callFrame.functionName !== '(idle)');
  const total = busy.length;
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  for (const id of busy) {
    const n = byId.get(id)!;
    add(byFn, name(n));
    add(byPkg, packageOf(n.callFrame.url).replace(/^autodevhub (.*)$/, 'autodevhub'));
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!;
      if (!/\/src\//.test(f.callFrame.url) || /node_modules/.test(f.callFrame.url)) continue;
      const k = name(f);
      if (!seen.has(k)) add(inclusive, k), seen.add(k);
    }
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k);
  console.log(`\nsteady state: ${total} busy samples of ${profile.window.length} in the measured window`);
  console.log('\nself time by package:');
  for (const [k, v] of top(byPkg, 15)) console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
  console.log('\nself time by function:');
  for (const [k, v] of top(byFn, 30)) console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
  console.log('\ntotal time (self and callees) by AutoDevHub function:');
  for (const [k, v] of top(inclusive, 30)) console.log(`${((100 * v) / total).toFixed(1).padStart(6)}%  ${k}`);
}
