import type { Redis } from 'ioredis';
import type { EventPublisher, RunEventMessage } from '../core/events.js';

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
      const pipeline = redis.pipeline();
      for (const e of events) pipeline.publish(channel, JSON.stringify(e));
      await pipeline.exec();
    },
  };
}
