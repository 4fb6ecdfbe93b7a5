import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { LimitBucket, LimitState, RateLimits } from '../core/context.js';
import type { RateLimit } from '../core/config.js';

/**
 * Rate limits on Redis (rate-limiter-flexible), shared by every web process, under the queue
 * prefix. They never wait on a Redis that is down or slow: while the connection is not ready, or
 * Redis does not answer within `timeoutMs`, each process counts on its own (an in-memory limiter
 * with the same limits), so commands are still answered at once and floods are still slowed.
 */

const BUCKETS: LimitBucket[] = ['commands', 'api', 'signin', 'badSignatures', 'sockets'];

export function createRateLimits(redis: Redis, prefix: string, limits: Record<LimitBucket, RateLimit>, timeoutMs = 250): RateLimits {
  const stores = new Map(
    BUCKETS.map((bucket) => {
      const { points, durationMs } = limits[bucket];
      const duration = Math.max(1, Math.round(durationMs / 1000));
      const memory = new RateLimiterMemory({ points, duration, keyPrefix: `${prefix}:rl:${bucket}` });
      const shared = new RateLimiterRedis({ storeClient: redis, points, duration, keyPrefix: `${prefix}:rl:${bucket}`, rejectIfRedisNotReady: true });
      return [bucket, { memory, shared, points }] as const;
    }),
  );

  const state = (points: number, res: RateLimiterRes, ok: boolean): LimitState => ({ ok, limit: points, remaining: Math.max(0, res.remainingPoints), resetMs: res.msBeforeNext });
  /** Keys a consume in this process found used up, until when: what `peek` answers from. */
  const refusedUntil = new Map<string, number>();

  function peek(bucket: LimitBucket, key: string): LimitState {
    const { points } = stores.get(bucket)!;
    const until = refusedUntil.get(`${bucket}:${key}`) ?? 0;
    const left = until - Date.now();
    if (left > 0) return { ok: false, limit: points, remaining: 0, resetMs: left };
    if (until) refusedUntil.delete(`${bucket}:${key}`);
    return { ok: true, limit: points, remaining: points, resetMs: 0 };
  }

  async function consume(bucket: LimitBucket, key: string): Promise<LimitState> {
    const result = await consumeFrom(bucket, key);
    // Used up (this was the last point) or over: peek refuses the key until the window ends.
    if (!result.ok || result.remaining === 0) {
      if (refusedUntil.size > 100_000) refusedUntil.clear();
      refusedUntil.set(`${bucket}:${key}`, Date.now() + result.resetMs);
    }
    return result;
  }

  async function consumeFrom(bucket: LimitBucket, key: string): Promise<LimitState> {
    const { memory, shared, points } = stores.get(bucket)!;
    const attempt = async (limiter: RateLimiterMemory | RateLimiterRedis): Promise<LimitState> => {
      try {
        return state(points, await limiter.consume(key), true);
      } catch (err) {
        if (err instanceof RateLimiterRes) return state(points, err, false);
        throw err;
      }
    };
    if (redis.status !== 'ready') return attempt(memory);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('rate limit store timed out')), timeoutMs);
    });
    try {
      return await Promise.race([attempt(shared), timeout]);
    } catch {
      return attempt(memory);
    } finally {
      clearTimeout(timer);
    }
  }

  return { consume, peek: async (bucket, key) => peek(bucket, key) };
}
