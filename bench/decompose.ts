/**
 * `npm run bench -- decompose`: where AutoDevHub's ingress CPU goes, by request type against
 * one web process: GET /healthz (HTTP + middleware), a signed `help` command (adds verify,
 * parse, rate limit, access), a signed `story` (adds the durable intake). CPU µs per request
 * of the server process, from /proc.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appArgs, BENCH_REDIS as REDIS, benchResources, cpuMsOf, freePort, syscallsOf } from './util.js';
import { signSlackRequest } from '../src/bots/slack/webhook/verify.js';

const SECRET = 'bench-signing-secret-0123456789abcdef';
const SECONDS = Number(process.env.BENCH_DURATION ?? 6);

function slash(text: string): string {
  return new URLSearchParams({ team_id: 'T0', channel_id: 'C0BENCH', user_id: 'U0BENCH', command: '/autodevhub', text, trigger_id: randomBytes(8).toString('hex'), api_app_id: 'A0' }).toString();
}

async function measure(url: string, pid: number, name: string, body?: (i: number) => string) {
  let i = 0;
  const before = cpuMsOf(pid);
  const io = syscallsOf(pid);
  const r = await autocannon({
    url,
    connections: 32,
    duration: SECONDS,
    requests: [
      body
        ? {
            method: 'POST',
            path: '/slack/events',
            setupRequest: (req) => {
              const b = body(i++);
              const ts = Math.floor(Date.now() / 1000);
              return { ...req, body: b, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signSlackRequest(SECRET, ts, b) } };
            },
          }
        : { method: 'GET', path: '/healthz' },
    ],
  });
  const us = ((cpuMsOf(pid) - before) * 1000) / Math.max(1, r['2xx']);
  const after = syscallsOf(pid);
  const per = (n: number) => (n / Math.max(1, r['2xx'])).toFixed(2).padStart(5);
  console.log(
    `${name.padEnd(40)} ${String(Math.round(r['2xx'] / SECONDS)).padStart(7)} req/s  p99 ${String(r.latency.p99).padStart(4)} ms  ${us.toFixed(0).padStart(5)} µs cpu/req  ` +
      `${per(after.reads - io.reads)} reads ${per(after.writes - io.writes)} writes /req  non-2xx ${r.non2xx}`,
  );
}

export async function runDecompose(): Promise<void> {
  const res = await benchResources();
  const port = await freePort();
  const child = spawn(process.execPath, appArgs(), {
    cwd: process.env.BENCH_APP_DIR,
    env: { ...process.env, PORT: String(port), DATABASE_URL: res.dbUrl, REDIS_URL: REDIS, AUTODEVHUB_ROLE: 'web', AUTODEVHUB_QUEUE_PREFIX: res.prefix, RATE_LIMIT_COMMANDS: '1000000/1m', AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'), SLACK_SIGNING_SECRET: SECRET, SLACK_BOT_TOKEN: 'xoxb-bench', SLACK_API_URL: 'http://127.0.0.1:9/api/', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    for (let t = 0; t < 150 && !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); t++) await new Promise((r) => setTimeout(r, 200));
    await measure(url, child.pid!, 'warm-up', (i) => slash(`story warm ${i} as a user I want x so that y`));
    await measure(url, child.pid!, 'GET /healthz');
    await measure(url, child.pid!, 'slash help', () => slash('help'));
    await measure(url, child.pid!, 'slash story', (i) => slash(`story As a shopper I want to save cart ${i} so that I can buy later`));
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await res.cleanup();
  }
}
