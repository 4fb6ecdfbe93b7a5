import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_REDIS as REDIS, benchResources, freePort } from './util.js';
import { Redis } from 'ioredis';
import { io as ioClient, type Socket } from 'socket.io-client';

/**
 * `npm run bench -- fanout`: one run's events delivered to 1,000 and 5,000 connected widget
 * clients (this process) by AutoDevHub's web process (a child process), and, in the same run, by a
 * bare Socket.IO server relaying the same Redis channel. Prints p50/p99 delivery latency (publish
 * to receipt) and the server's memory per idle connection, and the ratios to the baseline.
 */

const SIZES = (process.env.BENCH_CLIENTS ?? '1000,5000').split(',').map(Number);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20);
const ORIGIN = 'https://status.bench.test';
const now = () => performance.timeOrigin + performance.now();


function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function serverMemory(url: string | undefined, pid: number): Promise<number> {
  if (url) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^autodevhub_process_resident_memory_bytes (\d+(?:\.\d+)?)/m.exec(text);
    if (m) return Number(m[1]);
  }
  const { readFileSync } = await import('node:fs');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function connectAll(url: string, n: number, auth: Record<string, string> | undefined, project: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const group = Array.from({ length: Math.min(batch, n - i) }, () => {
      const s = ioClient(url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: ORIGIN }, ...(auth && { auth }) });
      sockets.push(s);
      return new Promise<void>((resolve, reject) => {
        s.once('connect_error', reject);
        s.once('connect', () => s.emit('subscribe', { project }, (r: { ok: boolean; error?: string }) => (r.ok ? resolve() : reject(new Error(r.error)))));
      });
    });
    await Promise.all(group);
  }
  return sockets;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

interface Result {
  target: string;
  clients: number;
  delivered: number;
  expected: number;
  p50: number;
  p99: number;
  bytesPerConnection: number;
}

async function measure(target: string, url: string, pid: number, metricsUrl: string | undefined, n: number, auth: Record<string, string> | undefined, channel: string, project: string): Promise<Result> {
  const before = await serverMemory(metricsUrl, pid);
  const sockets = await connectAll(url, n, auth, project);
  await new Promise((r) => setTimeout(r, 1500));
  const idle = await serverMemory(metricsUrl, pid);
  const latencies: number[] = [];
  for (const s of sockets) {
    s.on('run-event', (e: { data: { sentAt: number } }) => latencies.push(now() - e.data.sentAt));
  }
  const redis = new Redis(REDIS);
  for (let seq = 1; seq <= EVENTS; seq++) {
    const event = {
      runId: 1, ref: 'R-1', projectKey: project, kind: 'story', seq, stage: 'generate', status: 'running',
      progress: Math.round((100 * seq) / EVENTS), message: `step ${seq}`, at: new Date().toISOString(), data: { sentAt: now() },
    };
    await redis.publish(channel, JSON.stringify(event));
    await new Promise((r) => setTimeout(r, 150));
  }
  await new Promise((r) => setTimeout(r, 1500));
  await redis.quit();
  for (const s of sockets) s.close();
  latencies.sort((a, b) => a - b);
  return {
    target, clients: n, delivered: latencies.length, expected: n * EVENTS,
    p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99),
    bytesPerConnection: Math.max(0, idle - before) / n,
  };
}

export async function runFanoutBench(): Promise<void> {
  const resources = await benchResources();
  const { prefix } = resources;
  const dbUrl = new URL(resources.dbUrl);
  const configDir = mkdtempSync(join(tmpdir(), 'adh-bench-'));
  writeFileSync(join(configDir, 'autodevhub.yaml'), 'projects:\n  - key: bench\n');
  const results: Result[] = [];
  try {
    for (const n of SIZES) {
      // AutoDevHub's web process, with a widget token for the project.
      const port = await freePort();
      const { child, match } = await start(
        ['src/main.ts'],
        {
          PORT: String(port), DATABASE_URL: dbUrl.toString(), REDIS_URL: REDIS, AUTODEVHUB_ROLE: 'web',
          AUTODEVHUB_QUEUE_PREFIX: prefix, AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'),
          AUTODEVHUB_CONFIG: join(configDir, 'autodevhub.yaml'), LOG_LEVEL: 'warn',
        },
        /sign-in link[^:]*: (\S+)/,
      );
      const base = `http://127.0.0.1:${port}`;
      const signin = await fetch(match[1]!, { redirect: 'manual' });
      const cookie = signin.headers.get('set-cookie')!.split(';')[0]!;
      const created = await fetch(`${base}/api/v1/widget-tokens`, {
        method: 'POST', headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ project: 'bench', origins: [ORIGIN] }),
      });
      const { token } = (await created.json()) as { token: string };
      results.push(await measure('AutoDevHub (token auth, replay, rooms)', base, child.pid!, base, n, { token }, `${prefix}:run-events`, 'bench'));
      await stop(child);

      const barePort = await freePort();
      const bare = await start(['bench/bare-socketio.ts'], { PORT: String(barePort), CHANNEL: `${prefix}:bare`, REDIS_URL: REDIS }, /ready/);
      results.push(await measure('bare Socket.IO relay', `http://127.0.0.1:${barePort}`, bare.child.pid!, undefined, n, undefined, `${prefix}:bare`, 'bench'));
      await stop(bare.child);
    }
  } finally {
    await resources.cleanup();
  }

  console.log(`\nfanout: ${EVENTS} events of one run, 150 ms apart, to N clients in one separate process; ${process.platform} ${process.arch}, node ${process.version}\n`);
  console.log('target'.padEnd(40), 'clients'.padStart(8), 'delivered'.padStart(10), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'KiB/conn'.padStart(9));
  for (const r of results) {
    console.log(r.target.padEnd(40), String(r.clients).padStart(8), `${((100 * r.delivered) / r.expected).toFixed(1)}%`.padStart(10), r.p50.toFixed(1).padStart(8), r.p99.toFixed(1).padStart(8), (r.bytesPerConnection / 1024).toFixed(1).padStart(9));
  }
  for (const n of SIZES) {
    const ours = results.find((r) => r.clients === n && r.target.startsWith('AutoDevHub'))!;
    const bare = results.find((r) => r.clients === n && r.target.startsWith('bare'))!;
    console.log(`\n${n} clients: p99 ratio AutoDevHub / bare ${(ours.p99 / bare.p99).toFixed(2)}, memory ratio ${(ours.bytesPerConnection / Math.max(1, bare.bytesPerConnection)).toFixed(2)}`);
  }
  const at5k = results.find((r) => r.clients === 5000 && r.target.startsWith('AutoDevHub'));
  if (at5k) console.log(`goal: p99 ≤ 100 ms at 5,000 clients → ${at5k.p99 <= 100 ? 'met' : 'not met'} (${at5k.p99.toFixed(1)} ms)`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/fanout-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ events: EVENTS, results }, null, 2));
}
