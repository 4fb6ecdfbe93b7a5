import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { appArgs, BENCH_REDIS as REDIS, benchResources, cpuMsOf, freePort } from './util.js';
import { Redis } from 'ioredis';
import { signSlackRequest } from '../src/bots/slack/webhook/verify.js';
import { jobIds } from '../src/jobs/queues.js';

/**
 * `npm run bench -- ingress`: signed slash commands fired at AutoDevHub for a fixed time, then,
 * in the same run on the same machine, at three peers on Bolt's HTTPReceiver: the simple durable
 * design (one Postgres insert + one queue.add per command), the queue alone, and an empty ack.
 * Prints throughput and ack latency p50/p99 of each and every ratio, and checks that every
 * command AutoDevHub acknowledged is durably stored (Postgres row) and enqueued (BullMQ job).
 */

const SECRET = 'bench-signing-secret-0123456789abcdef';
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
/** Commands come from this many people in turn (a real workspace: each person now and then); 1: one person sends them all. */
const PEOPLE = Math.max(1, Number(process.env.BENCH_PEOPLE ?? 500));


export function startProcess(args: string[], env: Record<string, string>, readyUrl: string, cwd?: string): Promise<ChildProcess> {
  const argv = args[0] === 'src/main.ts' ? [...appArgs(), ...args.slice(1)] : ['--import', 'tsx', ...args];
  const child = spawn(process.execPath, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`${args[0]} exited with ${child.exitCode}`));
      try {
        const res = await fetch(readyUrl, { method: readyUrl.endsWith('/slack/events') ? 'POST' : 'GET' });
        if (res.status < 500) return resolve(child);
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) return reject(new Error(`${args[0]} did not start`));
      setTimeout(poll, 200);
    };
    void poll();
  });
}

export async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

function slashCommand(i: number): string {
  return new URLSearchParams({
    token: 'x',
    team_id: 'T0BENCH',
    team_domain: 'bench',
    channel_id: 'C0BENCH',
    channel_name: 'bench',
    user_id: PEOPLE === 1 ? 'U0BENCH' : `U0BENCH${i % PEOPLE}`,
    user_name: 'bench',
    command: '/autodevhub',
    text: `story As a shopper I want to save cart number ${i} so that I can buy later`,
    response_url: 'https://hooks.slack.com/commands/T0BENCH/1/x',
    trigger_id: `${Date.now()}.${i}.${randomBytes(6).toString('hex')}`,
    api_app_id: 'A0BENCH',
  }).toString();
}

interface Figures {
  name: string;
  requests: number;
  ok: number;
  errors: number;
  throughput: number;
  p50: number;
  p99: number;
  /** The server process's CPU time per acknowledged command (user + system), in µs. */
  cpuUsPerCommand: number;
}

export async function fire(name: string, url: string, seconds: number, acked?: Set<number>, pid?: number): Promise<Figures> {
  let i = 0;
  const cpuBefore = cpuMsOf(pid);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/slack/events',
        setupRequest: (req) => {
          const body = slashCommand(i++);
          const ts = Math.floor(Date.now() / 1000);
          return {
            ...req,
            body,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-slack-request-timestamp': String(ts),
              'x-slack-signature': signSlackRequest(SECRET, ts, body),
            },
          };
        },
        onResponse: (status, body) => {
          const ref = /Queued R-(\d+)/.exec(String(body));
          if (acked && status === 200 && ref) acked.add(Number(ref[1]));
        },
      },
    ],
  });
  return {
    name,
    requests: result.requests.total,
    ok: result['2xx'],
    errors: result.non2xx + result.errors + result.timeouts,
    throughput: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUsPerCommand: ((cpuMsOf(pid) - cpuBefore) * 1000) / Math.max(1, result['2xx']),
  };
}

export async function runIngressBench(): Promise<void> {
  const resources = await benchResources();
  const { prefix } = resources;
  const dbUrl = new URL(resources.dbUrl);
  // Bolt checks the bot token with auth.test once; a local stand-in answers it.
  const fakeSlack = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: 'T0BENCH' }));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => fakeSlack.once('listening', r));
  const slackApi = `http://127.0.0.1:${(fakeSlack.address() as { port: number }).port}/api/`;

  const results: Figures[] = [];
  const acked = new Set<number>();
  let stored = { acked: 0, runs: 0, jobs: 0 };
  try {
    // AutoDevHub: the web role (ingress only) so that no worker competes for the two cores.
    const port = await freePort();
    const server = await startProcess(
      ['src/main.ts'],
      {
        PORT: String(port),
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL: REDIS,
        AUTODEVHUB_ROLE: 'web',
        AUTODEVHUB_QUEUE_PREFIX: prefix,
        // Each bench person sends hundreds of commands: the per-person limit would measure itself.
        RATE_LIMIT_COMMANDS: '1000000/1m',
        AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'),
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_BOT_TOKEN: 'xoxb-bench',
        SLACK_API_URL: slackApi,
        LOG_LEVEL: 'warn',
      },
      `http://127.0.0.1:${port}/healthz`,
      // Another checkout of AutoDevHub (e.g. an earlier commit) measured against the same peers.
      process.env.BENCH_APP_DIR,
    );
    await fire('warm-up', `http://127.0.0.1:${port}`, 2);
    results.push(await fire('AutoDevHub (verify, dedupe, store, enqueue, ack)', `http://127.0.0.1:${port}`, DURATION, acked, server.pid));
    await stop(server);
    stored = await durable(dbUrl.toString(), prefix, [...acked]);

    // The peers, on the same machine in the same run: the simple durable design a Bolt user
    // would write (insert + queue.add), the queue alone, and Bolt doing nothing.
    const peers: Array<[string, string, Record<string, string>]> = [
      ['Bolt + one Postgres insert + queue.add, ack', 'bench/bolt-durable.ts', { DATABASE_URL: dbUrl.toString(), REDIS_URL: REDIS, PREFIX: `${prefix}-peer` }],
      ['Bolt + queue.add, ack', 'bench/bolt-durable.ts', { BENCH_PEER: 'queue', REDIS_URL: REDIS, PREFIX: `${prefix}-peerq` }],
      ['bare Bolt HTTPReceiver (verify, empty ack)', 'bench/bare-bolt.ts', {}],
    ];
    for (const [name, script, env] of peers) {
      const peerPort = await freePort();
      const peer = await startProcess([script], { PORT: String(peerPort), SLACK_SIGNING_SECRET: SECRET, ...env }, `http://127.0.0.1:${peerPort}/slack/events`);
      await fire('warm-up', `http://127.0.0.1:${peerPort}`, 2);
      results.push(await fire(name, `http://127.0.0.1:${peerPort}`, DURATION, undefined, peer.pid));
      await stop(peer);
    }
  } finally {
    fakeSlack.close();
    await resources.cleanup();
  }

  const [ours, durablePeer, queuePeer, bolt] = results as [Figures, Figures, Figures, Figures];
  console.log(`\ningress: ${DURATION}s per target, ${CONNECTIONS} connections, commands from ${PEOPLE} ${PEOPLE === 1 ? 'person' : 'people'}, ${process.platform} ${process.arch}, node ${process.version}\n`);
  console.log('target'.padEnd(52), 'req/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'non-2xx'.padStart(8), 'cpu µs/cmd'.padStart(11));
  for (const r of results) {
    console.log(r.name.padEnd(52), r.throughput.toFixed(0).padStart(8), r.p50.toFixed(1).padStart(8), r.p99.toFixed(1).padStart(8), String(r.errors).padStart(8), r.cpuUsPerCommand.toFixed(0).padStart(11));
  }
  console.log('');
  for (const peer of [durablePeer, queuePeer, bolt]) {
    console.log(
      `AutoDevHub / ${peer.name}: throughput ${(ours.throughput / peer.throughput).toFixed(2)}×, p99 ${(ours.p99 / Math.max(peer.p99, 0.001)).toFixed(2)}×, cpu per command ${(ours.cpuUsPerCommand / peer.cpuUsPerCommand).toFixed(2)}×`,
    );
  }
  const goal = ours.throughput >= 1.0 * durablePeer.throughput && ours.p99 <= 25;
  console.log(`goal: ≥ 1.0× the Postgres + queue peer's throughput with p99 ≤ 25 ms → ${goal ? 'met' : 'not met'}`);
  const all = stored.runs === stored.acked && stored.jobs === stored.acked;
  console.log(`durability (checked after the server stopped): of ${stored.acked} acknowledged runs, ${stored.runs} stored in Postgres and ${stored.jobs} enqueued in Redis → ${all ? 'all' : 'MISSING SOME'}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/ingress-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ node: process.version, people: PEOPLE, duration: DURATION, connections: CONNECTIONS, results, stored }, null, 2));
}

/** Each acknowledged run: its row in Postgres and its job in Redis. */
async function durable(dbUrl: string, prefix: string, numbers: number[]) {
  const c = new pg.Client({ connectionString: dbUrl });
  await c.connect();
  let ids: number[];
  let jobId: (id: number) => string;
  try {
    ids = (await c.query('select id from workflow_runs where number = any($1::int[])', [numbers])).rows.map((r) => Number(r.id));
    const installation = await c.query('select id from installation').catch(() => undefined);
    // An earlier checkout (BENCH_APP_DIR) from before installation ids named its jobs run-<id>.
    jobId = installation ? (id) => jobIds(String(installation.rows[0].id)).run(id) : (id) => `run-${id}`;
  } finally {
    await c.end();
  }
  const redis = new Redis(REDIS);
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.exists(`${prefix}:story:${jobId(id)}`);
  const exists = (await pipeline.exec()) ?? [];
  await redis.quit();
  return { acked: numbers.length, runs: ids.length, jobs: exists.filter(([, n]) => n === 1).length };
}
