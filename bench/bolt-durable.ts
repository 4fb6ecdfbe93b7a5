/**
 * The simple durable design a Bolt user would write, as a peer for `npm run bench -- ingress`:
 * Bolt's HTTPReceiver verifies the signature; the listener inserts the command (one row, the
 * trigger id unique so a retry makes no second row) and adds one BullMQ job, then acks.
 * BENCH_PEER=queue leaves out the insert: verify, queue.add, ack.
 */
import { App, LogLevel } from '@slack/bolt';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const port = Number(process.env.PORT ?? 3999);
const withInsert = process.env.BENCH_PEER !== 'queue';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const queue = new Queue('story', { connection: redis, prefix: process.env.PREFIX ?? 'peer' });

if (withInsert) {
  await pool.query(`create table if not exists peer_commands (
    id bigserial primary key, trigger_id text not null unique, user_id text not null, channel_id text not null,
    text text not null, created_at timestamptz not null default now())`);
}

const app = new App({
  signingSecret: process.env.SLACK_SIGNING_SECRET!,
  authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH' }),
  logLevel: LogLevel.ERROR,
});
let counter = 0;
app.command('/autodevhub', async ({ command, ack }) => {
  let id: number;
  if (withInsert) {
    const r = await pool.query(
      `insert into peer_commands (trigger_id, user_id, channel_id, text) values ($1, $2, $3, $4)
       on conflict (trigger_id) do update set trigger_id = excluded.trigger_id returning id`,
      [command.trigger_id, command.user_id, command.channel_id, command.text],
    );
    id = Number(r.rows[0].id);
  } else {
    id = ++counter;
  }
  await queue.add('story', { id }, { jobId: `peer-${id}` });
  await ack({ response_type: 'in_channel', text: `Queued R-${id}` });
});
await app.start(port);
process.stdout.write(`ready ${port}\n`);
process.on('SIGTERM', () => {
  void Promise.all([app.stop(), queue.close(), pool.end()]).finally(() => {
    redis.disconnect();
    process.exit(0);
  });
});
