import { createServer } from 'node:http';

/** A port nothing listens on right now, for a child process to take. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const BENCH_PG = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const BENCH_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A database and a Redis key prefix of the bench's own; `cleanup` removes both. */
export async function benchResources(): Promise<{ dbUrl: string; prefix: string; cleanup(): Promise<void> }> {
  const dbName = `adh_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: BENCH_PG });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const dbUrl = new URL(BENCH_PG);
  dbUrl.pathname = `/${dbName}`;
  const prefix = `adhbench-${randomBytes(4).toString('hex')}`;
  return {
    dbUrl: dbUrl.toString(),
    prefix,
    async cleanup() {
      await admin.query(`drop database if exists ${dbName} with (force)`);
      await admin.end();
      const redis = new Redis(BENCH_REDIS);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    },
  };
}
