import type { Redis } from 'ioredis';
import type { EventPublisher } from '../core/context.js';
import type { RunEventMessage } from '../core/runs/model.js';

export function eventsChannel(prefix: string): string {
  return `${prefix}:run-events`;
}

/** Workers and web processes publish through Redis; every web process fans out to its sockets. */
export function createRedisPublisher(redis: Redis, prefix: string): EventPublisher {
  const channel = eventsChannel(prefix);
  return {
    async publish(event: RunEventMessage) {
      await redis.publish(channel, JSON.stringify(event));
    },
    async publishMany(events: RunEventMessage[]) {
      if (events.length === 0) return;
      // On an auto-pipelining connection these go out in one write.
      await Promise.all(events.map((e) => redis.publish(channel, JSON.stringify(e))));
    },
  };
}
