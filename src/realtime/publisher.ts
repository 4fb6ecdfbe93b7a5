import type { Redis } from 'ioredis';
import type { EventPublisher } from '../core/context.js';
import type { RunEventMessage } from '../core/runs/model.js';

export function eventsChannel(prefix: string): string {
  return `${prefix}:run-events`;
}

/**
 * Workers and web processes publish through Redis; every web process fans out to its sockets. A
 * message is one event, or (a group of commands taken in together) an array of events: one
 * PUBLISH, and one parse in each web process, for the whole group.
 */
export function createRedisPublisher(redis: Redis, prefix: string): EventPublisher {
  const channel = eventsChannel(prefix);
  return {
    async publish(event: RunEventMessage) {
      await redis.publish(channel, JSON.stringify(event));
    },
    async publishMany(events: RunEventMessage[]) {
      if (events.length === 0) return;
      await redis.publish(channel, JSON.stringify(events.length === 1 ? events[0] : events));
    },
  };
}
