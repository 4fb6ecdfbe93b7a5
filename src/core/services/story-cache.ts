import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { normaliseDescription } from '../ai/confidence.js';

export interface CachedStory {
  gherkin: string;
  provider: string;
  model: string;
  confidence: number;
  storyId: number;
}

export interface StoryCache {
  get(description: string): Promise<CachedStory | undefined>;
  set(description: string, story: CachedStory, ttlSeconds: number): Promise<void>;
}

export function cacheKey(description: string): string {
  return createHash('sha256').update(normaliseDescription(description)).digest('hex');
}

export function createRedisStoryCache(redis: Redis, prefix: string): StoryCache {
  const key = (d: string) => `${prefix}:story-cache:${cacheKey(d)}`;
  return {
    async get(description) {
      const raw = await redis.get(key(description));
      return raw ? (JSON.parse(raw) as CachedStory) : undefined;
    },
    async set(description, story, ttlSeconds) {
      if (ttlSeconds > 0) await redis.set(key(description), JSON.stringify(story), 'EX', ttlSeconds);
    },
  };
}
