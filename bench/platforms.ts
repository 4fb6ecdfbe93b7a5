/**
 * `npm run bench -- ingress-discord` and `npm run bench -- ingress-api`: signed Discord
 * interactions, or `POST /api/v1/commands` with an API token, fired at AutoDevHub's web role and,
 * in the same run, at the naive durable design (bench/naive-durable.ts: the same check of the
 * credential, one insert and one queue.add per command). Prints throughput, p50/p99, CPU per
 * command and the ratios, then checks that every acknowledged command became a stored run.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';
import autocannon from 'autocannon';
import pg from 'pg';
import { BENCH_REDIS as REDIS, benchResources, cpuMsOf, freePort } from './util.js';
import { startProcess, stop } from './ingress.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const APP_ID = '990000000000000099';
/** Commands come from this many people (Discord users; API tokens) in turn; 1: one sends them all. */
const PEOPLE = Math.max(1, Number(process.env.BENCH_PEOPLE ?? 500));
const TOKENS = Array.from({ length: PEOPLE }, () => `adh_${randomBytes(24).toString('base64url')}`);

type Surface = 'discord' | 'api';
interface Figures { name: string; ok: number; errors: number; throughput: number; p50: number; p99: number; cpuUs: number }

function discordKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { hex: publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex'), sign: (m: string) => sign(null, Buffer.from(m), privateKey).toString('hex') };
}

function request(surface: Surface, keys: ReturnType<typeof discordKeys>, i: number): { method: 'POST'; path: string; body: string; headers: Record<string, string> } {
  const description = `As a shopper I want to save cart number ${i} so that I can buy later`;
  if (surface === 'api') {
    return {
      method: 'POST',
      path: '/api/v1/commands',
      body: JSON.stringify({ text: `story ${description}` }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS[i % PEOPLE]}`, 'idempotency-key': randomBytes(12).toString('hex') },
    };
  }
  const body = JSON.stringify({
    id: String(1_200_000_000_000_000_000n + BigInt(i) * 1000n + BigInt(randomBytes(1)[0]!)), application_id: APP_ID, type: 2, token: `itoken-${randomBytes(8).toString('hex')}`, version: 1,
    guild_id: '445566', channel_id: '112233', member: { user: { id: String(4242_000 + (i % PEOPLE)), username: 'bench' }, roles: [], permissions: '0' },
    data: { id: '1', name: 'autodevhub', type: 1, options: [{ type: 1, name: 'story', options: [{ type: 3, name: 'description', value: description }] }] },
  });
  const ts = String(Math.floor(Date.now() / 1000));
  return { method: 'POST', path: '/discord/interactions', body, headers: { 'content-type': 'application/json', 'x-signature-ed25519': keys.sign(ts + body), 'x-signature-timestamp': ts } };
}

/** Each acknowledged command's delivery id (Discord: the interaction id; API: the Idempotency-Key) goes in `acked`. */
/** Signed before the clock starts: signing Ed25519 in the load generator would measure the generator. */
function presigned(surface: Surface, keys: ReturnType<typeof discordKeys>, seconds: number) {
  const ready = Array.from({ length: Math.min(60_000, 4000 * seconds) }, (_, i) => request(surface, keys, i));
  return (i: number) => ready[i] ?? request(surface, keys, i);
}

async function fire(name: string, surface: Surface, keys: ReturnType<typeof discordKeys>, url: string, seconds: number, pid?: number, acked?: string[]): Promise<Figures> {
  let i = 0;
  const next = presigned(surface, keys, seconds);
  const before = cpuMsOf(pid);
  // How the server records the delivery: an Idempotency-Key is kept per caller (the token's owner).
  const deliveryOf = (r: { body: string; headers: Record<string, string> }) => (surface === 'api' ? `${r.headers['idempotency-key']!} (from web:admin)` : `interaction:${(JSON.parse(r.body) as { id: string }).id}`);
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        // One request at a time per connection: the context holds the delivery id of the one in flight.
        setupRequest: (req, context) => {
          const r = next(i++);
          (context as Record<string, string>).delivery = deliveryOf(r);
          return { ...req, ...r };
        },
        onResponse: (status, _body, context) => {
          if (acked && status >= 200 && status < 300) acked.push((context as Record<string, string>).delivery!);
        },
      },
    ],
  });
  return { name, ok: r['2xx'], errors: r.non2xx + r.errors + r.timeouts, throughput: r['2xx'] / seconds, p50: r.latency.p50, p99: r.latency.p99, cpuUs: ((cpuMsOf(pid) - before) * 1000) / Math.max(1, r['2xx']) };
}

async function runSurface(surface: Surface): Promise<void> {
  const resources = await benchResources();
  const keys = discordKeys();
  // Discord's REST API, for anything the web role calls (nothing on this path): answers 200.
  const fake = createServer((_q, s) => s.end('{}')).listen(0, '127.0.0.1');
  await new Promise((r) => fake.once('listening', r));
  const results: Figures[] = [];
  let stored = 0;
  const acked: string[] = [];
  try {
    const port = await freePort();
    const profile = process.env.BENCH_PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    const server = await startProcess([...profile, 'src/main.ts'], {
      PORT: String(port), DATABASE_URL: resources.dbUrl, REDIS_URL: REDIS, AUTODEVHUB_ROLE: 'web', AUTODEVHUB_QUEUE_PREFIX: resources.prefix,
      RATE_LIMIT_COMMANDS: '1000000/1m', RATE_LIMIT_API: '1000000/1m', AUTODEVHUB_SECRET: 'bench-secret'.padEnd(40, '-'), LOG_LEVEL: 'warn',
      DISCORD_PUBLIC_KEY: keys.hex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: 'bench-bot', DISCORD_API_URL: `http://127.0.0.1:${(fake.address() as { port: number }).port}`,
    }, `http://127.0.0.1:${port}/healthz`);
    const db = new pg.Client({ connectionString: resources.dbUrl });
    await db.connect();
    // An admin's API token, as `POST /api/v1/tokens` would store it (hashed).
    // The admin's API tokens, as `POST /api/v1/tokens` would store them (hashed): one per bench caller.
    await db.query(`insert into api_tokens (kind, name, token_hash, subject, scopes, expires_at) select 'api', 'bench', unnest($1::text[]), 'web:admin', '["run"]', now() + interval '1 day'`, [TOKENS.map((t) => createHash('sha256').update(t).digest('hex'))]);
    await fire('warm-up', surface, keys, `http://127.0.0.1:${port}`, 2);
    results.push(await fire(`AutoDevHub (${surface})`, surface, keys, `http://127.0.0.1:${port}`, DURATION, server.pid, acked));
    await stop(server);
    // Checked after the server stopped: each acknowledged delivery has its run.
    stored = Number((await db.query('select count(*) from processed_deliveries d join workflow_runs r on r.id = d.run_id where d.delivery_id = any($1::text[])', [acked])).rows[0].count);
    await db.end();

    const peerPort = await freePort();
    const peer = await startProcess(['bench/naive-durable.ts'], { PORT: String(peerPort), BENCH_PEER: surface, DATABASE_URL: resources.dbUrl, REDIS_URL: REDIS, PREFIX: `${resources.prefix}-peer`, DISCORD_PUBLIC_KEY: keys.hex, API_TOKEN: TOKENS.join(',') }, `http://127.0.0.1:${peerPort}/`);
    await fire('warm-up', surface, keys, `http://127.0.0.1:${peerPort}`, 2);
    results.push(await fire(`naive durable (${surface === 'api' ? 'token lookup' : 'Ed25519'} + insert + queue.add)`, surface, keys, `http://127.0.0.1:${peerPort}`, DURATION, peer.pid));
    await stop(peer);
  } finally {
    fake.close();
    await resources.cleanup();
  }
  const [ours, naive] = results as [Figures, Figures];
  console.log(`\ningress-${surface}: ${DURATION}s per target, ${CONNECTIONS} connections, ${PEOPLE} ${surface === 'api' ? 'API tokens' : 'people'}, node ${process.version}\n`);
  console.log('target'.padEnd(52), 'req/s'.padStart(8), 'p50 ms'.padStart(8), 'p99 ms'.padStart(8), 'non-2xx'.padStart(8), 'cpu µs/cmd'.padStart(11));
  for (const r of results) console.log(r.name.padEnd(52), r.throughput.toFixed(0).padStart(8), r.p50.toFixed(1).padStart(8), r.p99.toFixed(1).padStart(8), String(r.errors).padStart(8), r.cpuUs.toFixed(0).padStart(11));
  console.log(`\nAutoDevHub / naive durable: throughput ${(ours.throughput / naive.throughput).toFixed(2)}×, p99 ${(ours.p99 / Math.max(0.001, naive.p99)).toFixed(2)}×, cpu per command ${(ours.cpuUs / naive.cpuUs).toFixed(2)}×`);
  console.log(`durability (checked after the server stopped): of ${acked.length} acknowledged commands, ${stored} have their run stored → ${stored === acked.length ? 'all' : 'MISSING SOME'}`);
}

export const runDiscordIngressBench = () => runSurface('discord');
export const runApiIngressBench = () => runSurface('api');
