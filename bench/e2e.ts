import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { BENCH_REDIS as REDIS, benchResources, freePort } from './util.js';
import { signSlackRequest } from '../src/bots/slack/webhook/verify.js';

/**
 * `npm run bench -- e2e`: the whole path a person waits on. Signed `/autodevhub story …` slash
 * commands at a fixed rate (100/s for 30 s by default) into AutoDevHub with a worker running
 * (offline generator), and a local Slack Web API that records when each story is posted in its
 * thread. Prints p50/p99 from the command being sent to the story being posted, and how many
 * of the acknowledged commands got their story.
 */

const SECRET = 'bench-signing-secret-0123456789abcdef';
const RATE = Number(process.env.BENCH_RATE ?? 100);
const DURATION = Number(process.env.BENCH_DURATION ?? 30);
const CHANNELS = Number(process.env.BENCH_CHANNELS ?? 50);

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The Slack Web API as AutoDevHub's client speaks it: records story posts by run reference. */
async function fakeSlack(posted: Map<string, number>) {
  let ts = 1_712_000_000;
  const server = createServer(async (req, res) => {
    const raw = await body(req);
    const args = String(req.headers['content-type']).includes('json') ? (JSON.parse(raw || '{}') as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw));
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
    const ref = /^User story (R-\d+)/.exec(String(args.text ?? ''))?.[1];
    if (method === 'chat.postMessage' && ref && args.thread_ts && !posted.has(ref)) posted.set(ref, performance.timeOrigin + performance.now());
    res.setHeader('content-type', 'application/json');
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

export async function runE2eBench(): Promise<void> {
  const resources = await benchResources();
  const posted = new Map<string, number>();
  const slack = await fakeSlack(posted);
  const sent = new Map<string, number>();
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
  let i = 0;
  try {
    const result = await autocannon({
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
            const trigger = `${n}.${randomBytes(4).toString('hex')}`;
            const text = `story As a shopper I want to save cart number ${n} so that I can buy later`;
            const body = new URLSearchParams({ command: '/autodevhub', text, user_id: `U${n % 400}`, channel_id: `C${n % CHANNELS}`, trigger_id: trigger, team_id: 'T0' }).toString();
            const ts = Math.floor(Date.now() / 1000);
            // One request at a time per connection: the answer that follows belongs to this send.
            (context as { sentAt?: number }).sentAt = performance.timeOrigin + performance.now();
            return { ...req, body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SECRET, ts, body) } };
          },
          onResponse: (status, resBody, context) => {
            const ref = /Queued (R-\d+)/.exec(String(resBody))?.[1];
            if (status === 200 && ref) sent.set(ref, (context as { sentAt: number }).sentAt);
          },
        },
      ],
    });
    void result;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && [...sent.keys()].some((r) => !posted.has(r))) await new Promise((r) => setTimeout(r, 250));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    slack.server.close();
  }
  await resources.cleanup();
  const latencies = [...sent].flatMap(([ref, t0]) => {
    const at = posted.get(ref);
    return at !== undefined ? [at - t0] : [];
  });
  latencies.sort((a, b) => a - b);
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  console.log(`\ne2e: ${RATE} commands/s for ${DURATION}s over ${CHANNELS} channels, worker running, offline generator\n`);
  console.log(`acknowledged ${sent.size}, stories posted ${latencies.length}${sent.size - latencies.length ? ` (${sent.size - latencies.length} MISSING)` : ''}`);
  console.log(`command → story in thread: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms (goal p50 ≤ 50, p99 ≤ 150 → ${p50 <= 50 && p99 <= 150 ? 'met' : 'not met'})`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify({ rate: RATE, duration: DURATION, acked: sent.size, posted: latencies.length, p50, p99 }, null, 2));
}
