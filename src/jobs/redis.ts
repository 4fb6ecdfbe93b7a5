import { Redis, type RedisOptions } from 'ioredis';

export class RedisPolicyError extends Error {
  override name = 'RedisPolicyError';
}

/**
 * Connections handed to BullMQ must never give up on a command (BullMQ's own requirement).
 * Connection errors are reported to `onError`; ioredis reconnects by itself.
 */
export function createRedis(url: string, opts: RedisOptions = {}, onError: (err: Error) => void = () => undefined): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...opts });
  redis.on('error', onError);
  return redis;
}

/**
 * BullMQ loses jobs when Redis evicts keys, so anything but noeviction is refused at start.
 * Managed Redis services that forbid CONFIG GET are given the benefit of the doubt, with a warning.
 */
export async function checkRedis(redis: Redis): Promise<{ policy: string | undefined; version: string | undefined }> {
  const info = await redis.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  if (version && Number(version.split('.')[0]) < 6) {
    throw new RedisPolicyError(`REDIS_URL: Redis ${version} is too old; AutoDevHub needs Redis 6.2 or newer.`);
  }
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    return { policy: undefined, version };
  }
  if (policy && policy !== 'noeviction') {
    throw new RedisPolicyError(
      `REDIS_URL: Redis maxmemory-policy is "${policy}"; queued jobs would be evicted under memory pressure. ` +
        `Set it to noeviction: redis-cli CONFIG SET maxmemory-policy noeviction (and in redis.conf: maxmemory-policy noeviction).`,
    );
  }
  return { policy, version };
}
