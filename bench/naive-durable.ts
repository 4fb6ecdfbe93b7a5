/**
 * The naive durable design, as the peer for `npm run bench -- ingress-discord` and `ingress-api`:
 * a plain Node HTTP server checks the platform's credential (Discord: the Ed25519 signature; API:
 * the bearer token, looked up by hash in Postgres), inserts the command (one row, its delivery id
 * unique so a retry makes no second row), adds one BullMQ job, and answers.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const mode = process.env.BENCH_PEER === 'api' ? 'api' : 'discord';
const port = Number(process.env.PORT ?? 3998);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const queue = new Queue('story', { connection: redis, prefix: process.env.PREFIX ?? 'peer' });
const key = mode === 'discord' ? createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(process.env.DISCORD_PUBLIC_KEY!, 'hex')]), format: 'der', type: 'spki' }) : undefined;

await pool.query(`create table if not exists peer_commands (
  id bigserial primary key, delivery_id text not null unique, user_id text not null, text text not null, created_at timestamptz not null default now())`);
await pool.query(`create table if not exists peer_tokens (token_hash text primary key, subject text not null)`);
if (process.env.API_TOKEN) {
  for (const token of process.env.API_TOKEN.split(',')) await pool.query('insert into peer_tokens values ($1, $2) on conflict do nothing', [createHash('sha256').update(token).digest('hex'), 'bench']);
}

async function store(deliveryId: string, user: string, text: string): Promise<number> {
  const r = await pool.query(
    `insert into peer_commands (delivery_id, user_id, text) values ($1, $2, $3)
     on conflict (delivery_id) do update set delivery_id = excluded.delivery_id returning id`,
    [deliveryId, user, text],
  );
  const id = Number(r.rows[0].id);
  await queue.add('story', { id }, { jobId: `peer-${id}` });
  return id;
}

createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const send = (status: number, payload: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload));
  };
  try {
    if (mode === 'discord') {
      const ts = String(req.headers['x-signature-timestamp'] ?? '');
      const sig = Buffer.from(String(req.headers['x-signature-ed25519'] ?? ''), 'hex');
      if (!verify(null, Buffer.from(ts + body), key!, sig)) return send(401, { error: 'invalid signature' });
      const i = JSON.parse(body) as { id: string; member: { user: { id: string } }; data: { options: Array<{ options: Array<{ value: string }> }> } };
      await store(`interaction:${i.id}`, i.member.user.id, i.data.options[0]!.options[0]!.value);
      return send(200, { type: 5 });
    }
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const owner = token && (await pool.query('select subject from peer_tokens where token_hash = $1', [createHash('sha256').update(token).digest('hex')])).rows[0];
    if (!owner) return send(401, { error: 'unauthorized' });
    const { text } = JSON.parse(body) as { text: string };
    const id = await store(String(req.headers['idempotency-key']), owner.subject, text);
    return send(202, { text: `Queued R-${id}` });
  } catch (err) {
    return send(500, { error: String(err) });
  }
}).listen(port, '127.0.0.1');

process.on('SIGTERM', () => {
  void Promise.all([queue.close(), pool.end()]).finally(() => {
    redis.disconnect();
    process.exit(0);
  });
});
