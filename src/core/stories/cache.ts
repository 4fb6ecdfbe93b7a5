import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { normaliseDescription } from '../ai/confidence.js';

export interface CachedStory {
  gherkin: string;
  provider: string;
  model: string;
  confidence: number;
  storyId: number;
  openQuestions?: string[];
}

/**
 * Stories for near-identical descriptions, per project: a project's glossary and accepted stories
 * shape its stories, so one project is never served another's (null: no project).
 */
export interface StoryCache {
  get(projectKey: string | null, description: string): Promise<CachedStory | undefined>;
  set(projectKey: string | null, description: string, story: CachedStory, ttlSeconds: number): Promise<void>;
}

export function cacheKey(description: string): string {
  return createHash('sha256').update(normaliseDescription(description)).digest('hex');
}

export function createRedisStoryCache(redis: Redis, prefix: string): StoryCache {
  // A project key is a slug (no ':'); '-' stands for no project.
  const key = (projectKey: string | null, d: string) => `${prefix}:story-cache:${projectKey ?? '-'}:${cacheKey(d)}`;
  return {
    async get(projectKey, description) {
      const raw = await redis.get(key(projectKey, description));
      return raw ? (JSON.parse(raw) as CachedStory) : undefined;
    },
    async set(projectKey, description, story, ttlSeconds) {
      if (ttlSeconds > 0) await redis.set(key(projectKey, description), JSON.stringify(story), 'EX', ttlSeconds);
    },
  };
}
