import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';

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
      // The peers use prefixes of their own under this one (`<prefix>-peer`, `<prefix>-peerq`).
      const keys = await redis.keys(`${prefix}*`);
      for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
      await redis.quit();
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux). */
export function cpuMsOf(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The process's read and write system calls so far (/proc/<pid>/io): socket round trips show here. */
export function syscallsOf(pid: number | undefined): { reads: number; writes: number } {
  if (!pid) return { reads: Number.NaN, writes: Number.NaN };
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1]);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: Number.NaN, writes: Number.NaN };
  }
}

/**
 * How the bench starts AutoDevHub: as `npm start` does (tsx, from the sources), or with
 * BENCH_BUILD=1 the production build as `npm run start:prod` does (run `npm run build` first).
 */
export function appArgs(): string[] {
  return process.env.BENCH_BUILD ? ['dist/src/main.js'] : ['--import', 'tsx', 'src/main.ts'];
}
