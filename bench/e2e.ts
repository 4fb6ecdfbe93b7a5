import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { BENCH_REDIS as REDIS, benchResources, freePort } from './util.js';
import { signSlackRequest } from '../src/bots/slack/webhook/verify.js';
import { SlackLimits } from '../test/fakes/slack-limits.js';

/**
 * `npm run bench -- e2e`: the whole path a person waits on, from a signed `/autodevhub story …`
 * slash command to the story posted in its thread, with a worker running (offline generator) and
 * a Slack Web API stand-in that enforces Slack's limits (chat.postMessage about 1/s per channel
 * with short bursts, chat.update 50/min per workspace; 429 + Retry-After past them). Scenarios:
 * quiet channels (one command at a time, each in its own channel), one busy channel (six stories
 * asked within a second), and a steady load (BENCH_RATE/s, default 20, over BENCH_CHANNELS
 * channels, default 3,000, for BENCH_DURATION s, default 30). Prints p50/p99/max per scenario and
 * the 429s the service caused.
 */

const SECRET = 'bench-signing-secret-0123456789abcdef';
const RATE = Number(process.env.BENCH_RATE ?? 20);
const DURATION = Number(process.env.BENCH_DURATION ?? 30);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 3000);
const QUIET = Number(process.env.BENCH_QUIET ?? 20);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const now = () => performance.timeOrigin + performance.now();

/** The Slack Web API as AutoDevHub's client speaks it, with Slack's limits: records story posts by run reference. */
async function fakeSlack(posted: Map<string, number>, limits: SlackLimits) {
  let ts = 1_712_000_000;
  const server = createServer(async (req, res) => {
    const raw = await body(req);
    const args = String(req.headers['content-type']).includes('json') ? (JSON.parse(raw || '{}') as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0]!;
    res.setHeader('content-type', 'application/json');
    const retryAfter = limits.check(method, String(args.channel ?? ''));
    if (retryAfter > 0) {
      res.statusCode = 429;
      res.setHeader('retry-after', String(retryAfter));
      return res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
    }
    const ref = /^User story (R-\d+)/.exec(String(args.text ?? ''))?.[1];
    if (method === 'chat.postMessage' && ref && args.thread_ts && !posted.has(ref)) posted.set(ref, now());
    res.end(JSON.stringify({ ok: true, channel: args.channel ?? 'C0', ts: `${++ts}.000100`, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: 'T0' }));
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/api/` };
}

function start(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 90_000;
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`AutoDevHub exited with ${child.exitCode}`));
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) return resolve(child);
      if (Date.now() > deadline) return reject(new Error('AutoDevHub did not become ready'));
      setTimeout(poll, 250);
    };
    void poll();
  });
}

function signed(n: number, channel: string, user: string) {
  const trigger = `${n}.${randomBytes(4).toString('hex')}`;
  const text = `story As a shopper I want to save cart number ${n} so that I can buy later`;
  const body = new URLSearchParams({ command: '/autodevhub', text, user_id: user, channel_id: channel, trigger_id: trigger, team_id: 'T0' }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SECRET, ts, body) } };
}

interface Figures {
  acked: number;
  posted: number;
  p50: number;
  p99: number;
  max: number;
  limited: number;
}

function figures(sent: Map<string, number>, posted: Map<string, number>, limited: number): Figures {
  const latencies = [...sent].flatMap(([ref, t0]) => (posted.has(ref) ? [posted.get(ref)! - t0] : [])).sort((a, b) => a - b);
  return { acked: sent.size, posted: latencies.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), max: latencies.at(-1) ?? NaN, limited };
}

async function send(port: number, n: number, channel: string, user: string, sent: Map<string, number>): Promise<string | undefined> {
  const { body, headers } = signed(n, channel, user);
  const t0 = now();
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', body, headers });
  const ref = /Queued (R-\d+)/.exec(await res.text())?.[1];
  if (res.status === 200 && ref) sent.set(ref, t0);
  return ref;
}

async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

const allPosted = (sent: Map<string, number>, posted: Map<string, number>) => () => [...sent.keys()].every((r) => posted.has(r));

/** One command at a time, each in a channel of its own: nothing else happening. */
async function quiet(port: number, posted: Map<string, number>, limits: SlackLimits): Promise<Figures> {
  const sent = new Map<string, number>();
  const before = limits.total429;
  for (let n = 0; n < QUIET; n++) {
    const ref = await send(port, 1_000_000 + n, `CQUIET${n}`, `UQ${n}`, sent);
    await until(() => !ref || posted.has(ref), 10_000);
    await new Promise((r) => setTimeout(r, 100));
  }
  return figures(sent, posted, limits.total429 - before);
}

/** Six stories asked within a second in one channel. */
async function busy(port: number, posted: Map<string, number>, limits: SlackLimits): Promise<Figures> {
  const sent = new Map<string, number>();
  const before = limits.total429;
  await Promise.all(Array.from({ length: 6 }, (_, i) => new Promise((r) => setTimeout(r, i * 150)).then(() => send(port, 2_000_000 + i, 'CBUSY', `UB${i}`, sent))));
  await until(allPosted(sent, posted), 30_000);
  return figures(sent, posted, limits.total429 - before);
}

/** A steady RATE/s over CHANNELS channels (and 400 people) for DURATION s. */
async function load(port: number, posted: Map<string, number>, limits: SlackLimits): Promise<Figures> {
  const sent = new Map<string, number>();
  const before = limits.total429;
  let i = 0;
  await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 20,
    overallRate: RATE,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        path: '/slack/events',
        setupRequest: (req, context) => {
          const n = i++;
          // One request at a time per connection: the answer that follows belongs to this send.
          (context as { sentAt?: number }).sentAt = now();
          return { ...req, ...signed(n, `C${n % CHANNELS}`, `U${n % 400}`) };
        },
        onResponse: (status, resBody, context) => {
          const ref = /Queued (R-\d+)/.exec(String(resBody))?.[1];
          if (status === 200 && ref) sent.set(ref, (context as { sentAt: number }).sentAt);
        },
      },
    ],
  });
  await until(allPosted(sent, posted), 30_000);
  return figures(sent, posted, limits.total429 - before);
}

export async function runE2eBench(): Promise<void> {
  const resources = await benchResources();
  const posted = new Map<string, number>();
  const limits = new SlackLimits();
  const slack = await fakeSlack(posted, limits);
  const port = await freePort();
  const child = await start(
    {
      DATABASE_URL: resources.dbUrl,
      REDIS_URL: REDIS,
      AUTODEVHUB_QUEUE_PREFIX: resources.prefix,
      AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'),
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-bench',
      SLACK_API_URL: slack.url,
      STORY_CACHE_TTL_SECONDS: '0',
      LOG_LEVEL: 'warn',
    },
    port,
  );
  const results: Record<string, Figures> = {};
  try {
    // Warm up (first requests compile and connect), in a channel of its own.
    await send(port, 9_000_000, 'CWARM', 'UWARM', new Map());
    await new Promise((r) => setTimeout(r, 2000));
    const only = (process.env.BENCH_SCENARIOS ?? 'quiet,busy,load').split(',');
    if (only.includes('quiet')) results.quiet = await quiet(port, posted, limits);
    if (only.includes('busy')) results.busy = await busy(port, posted, limits);
    if (only.includes('load')) results.load = await load(port, posted, limits);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    slack.server.close();
  }
  await resources.cleanup();
  const f = (x: number) => x.toFixed(0);
  console.log(`\ne2e on Node ${process.version}: command → story in its thread, worker running, offline generator, Slack stand-in enforcing its limits\n`);
  const lines: [string, string, Figures | undefined, string][] = [
    ['quiet', `${QUIET} commands one at a time, each in its own channel`, results.quiet, 'goal p50 ≤ 150 ms, max ≤ 600 ms'],
    ['busy', 'six stories asked within a second in one channel', results.busy, 'goal: all shown within 15 s'],
    ['load', `${RATE}/s for ${DURATION}s over ${CHANNELS} channels`, results.load, 'goal p50 ≤ 100 ms, p99 ≤ 400 ms, all posted'],
  ];
  for (const [name, what, r, goal] of lines) {
    if (!r) continue;
    console.log(`${name.padEnd(6)} ${what}: acknowledged ${r.acked}, posted ${r.posted}${r.acked - r.posted ? ` (${r.acked - r.posted} MISSING)` : ''}; p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms, max ${f(r.max)} ms; 429s caused ${r.limited} (${goal})`);
  }
  console.log(`Retry-After ignored: ${limits.ignoredRetryAfter}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ node: process.version, rate: RATE, duration: DURATION, channels: CHANNELS, ...results, ignoredRetryAfter: limits.ignoredRetryAfter }, null, 2));
}
