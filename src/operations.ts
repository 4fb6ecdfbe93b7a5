import type { Server as HttpServer } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Redis } from 'ioredis';
import type { Database } from './core/db/orm.js';
import type { GitHubGateway } from './core/github/client.js';
import type { DisabledPlatform, PlatformAdapter } from './core/chat/adapter.js';
import { approvalsWaiting } from './core/runs/queries.js';
import type { Queues } from './jobs/queues.js';
import type { Metrics } from './metrics.js';
import { cachedProbe, type Probe } from './readiness.js';

/** What /readyz checks: the database and Redis (needed), and each configured outside service. */
export function readinessProbes(db: Database, redis: Redis, github: GitHubGateway | undefined, platforms: Array<PlatformAdapter | DisabledPlatform>, outsideCacheMs = 0): Probe[] {
  const probes: Probe[] = [
    {
      name: 'database',
      critical: true,
      check: async () => {
        if (!(await db.orm.isConnected())) throw new Error('not connected');
      },
    },
    {
      name: 'redis',
      critical: true,
      // A disconnected client would queue the PING until it reconnects: down, at once.
      check: async () => {
        if (redis.status !== 'ready') throw new Error(`not connected (${redis.status})`);
        await redis.ping();
      },
    },
  ];
  // Outside services are asked at most once per `outsideCacheMs`: /readyz is unauthenticated.
  if (github) probes.push(cachedProbe({ name: 'github', critical: false, check: (signal) => github.probe(signal) }, outsideCacheMs));
  for (const p of platforms) {
    if (!('disabled' in p) && p.probe) probes.push(cachedProbe({ name: p.platform, critical: false, check: (signal) => p.probe!(signal) }, outsideCacheMs));
  }
  return probes;
}

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

/**
 * Scrape-time readings: queue depths from Redis (skipped at once while Redis is disconnected:
 * BullMQ's commands would wait for a reconnect), deploys waiting for approval from Postgres,
 * and this process's sockets.
 */
export function registerCollectors(metrics: Metrics, deps: { queues: Queues; redis: Redis; db: Database; sockets?: () => number }): void {
  const { queueJobs, approvalsWaiting: waiting, approvalOldestWait, sockets } = metrics.gauges;
  metrics.collect('queues', async () => {
    if (deps.redis.status !== 'ready') {
      queueJobs.reset();
      throw new Error('Redis is not connected');
    }
    const all = [deps.queues.story, deps.queues.docs, deps.queues.deploy, deps.queues.chat];
    const counts = await Promise.all(all.map((q) => q.getJobCounts(...JOB_STATES)));
    all.forEach((q, i) => {
      for (const state of JOB_STATES) queueJobs.labels(q.name, state).set(counts[i]![state] ?? 0);
    });
  });
  metrics.collect('approvals', async () => {
    const { count, oldestSeconds } = await approvalsWaiting(deps.db.orm.em.fork());
    waiting.set(count);
    approvalOldestWait.set(oldestSeconds);
  });
  if (deps.sockets) {
    const count = deps.sockets;
    metrics.collect('sockets', () => sockets.set(count()));
  }
}

