import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CoreMetrics } from './core/metrics.js';

/**
 * The Prometheus registry of one running instance (prom-client), and core's CoreMetrics on it.
 * Values that live elsewhere (queue depths in Redis, approvals waiting in Postgres, sockets) are
 * read when Prometheus scrapes, each within a time limit: a scrape never hangs on a dependency
 * that is down; `autodevhub_collector_up` says which reading failed.
 */

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const RUN_SECONDS = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14_400];

export type Collector = () => Promise<void> | void;

export interface Metrics {
  registry: Registry;
  http: {
    requests: Histogram<'route' | 'method' | 'status'>;
    platformRequests: Counter<'platform' | 'outcome'>;
    /** From the request's arrival to the answer: the platforms' acknowledgement budget (Slack, Discord: 3 s). */
    ack: Histogram<'platform'>;
  };
  core: CoreMetrics;
  /** A reading taken at each scrape (it sets its gauges), given `timeoutMs` (default 500). */
  collect(name: string, read: Collector, timeoutMs?: number): void;
  /** The exposition text, after this scrape's readings. */
  render(): Promise<string>;
  gauges: {
    queueJobs: Gauge<'queue' | 'state'>;
    approvalsWaiting: Gauge;
    approvalOldestWait: Gauge;
    sockets: Gauge;
  };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'autodevhub_' });
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets = SECONDS) => new Histogram<L>({ name, help, labelNames, buckets, registers });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers });

  const http = {
    requests: histogram('autodevhub_http_request_duration_seconds', 'HTTP requests by route, method and status', ['route', 'method', 'status']),
    platformRequests: counter('autodevhub_platform_requests_total', 'Requests from chat platforms and GitHub by outcome (HTTP status)', ['platform', 'outcome']),
    ack: histogram('autodevhub_platform_ack_duration_seconds', 'Time to answer a platform request (acknowledgement latency; Slack and Discord allow 3 s)', ['platform'], [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10]),
  };
  const runs = histogram('autodevhub_run_duration_seconds', 'Runs from intake to their final event, by kind and outcome', ['kind', 'status'], RUN_SECONDS);
  const stages = histogram('autodevhub_run_stage_duration_seconds', 'Time runs spent in each stage, by kind and stage', ['kind', 'stage'], RUN_SECONDS);
  const ai = counter('autodevhub_ai_requests_total', 'AI generations by provider, operation and outcome', ['provider', 'operation', 'outcome']);
  const aiSeconds = histogram('autodevhub_ai_request_duration_seconds', 'AI generation latency by provider and operation', ['provider', 'operation'], [0.05, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120]);
  const aiTokens = counter('autodevhub_ai_tokens_total', 'AI tokens by provider and type (input, output, cache_read, cache_write)', ['provider', 'type']);
  const cache = counter('autodevhub_story_cache_requests_total', 'Story cache look-ups (near-identical descriptions) by result', ['result']);
  const github = counter('autodevhub_github_requests_total', 'GitHub API calls by method, route and status (0: no answer)', ['method', 'route', 'status']);
  const githubSeconds = histogram('autodevhub_github_request_duration_seconds', 'GitHub API call latency by method and route', ['method', 'route']);
  const githubRemaining = gauge('autodevhub_github_rate_limit_remaining', 'GitHub rate limit left, as GitHub last reported it, by resource', ['resource']);
  const githubLimit = gauge('autodevhub_github_rate_limit', 'GitHub rate limit per hour, by resource', ['resource']);
  const chat = counter('autodevhub_chat_api_requests_total', 'Chat platform API calls by platform, operation and outcome (ok, error, rate_limited)', ['platform', 'operation', 'outcome']);
  const chat429 = counter('autodevhub_chat_api_rate_limited_total', 'HTTP 429 answers from chat platform APIs (including ones the SDK waited out and retried)', ['platform']);
  const collectorUp = gauge('autodevhub_collector_up', 'Whether the last scrape-time reading succeeded (1) or failed or timed out (0)', ['collector']);

  const core: CoreMetrics = {
    runFinished: (kind, status, s) => runs.labels(kind, status).observe(s),
    stageFinished: (kind, stage, s) => stages.labels(kind, stage).observe(s),
    aiCall({ provider, operation, outcome, seconds, tokens }) {
      ai.labels(provider, operation, outcome).inc();
      aiSeconds.labels(provider, operation).observe(seconds);
      for (const [type, n] of [['input', tokens?.input], ['output', tokens?.output], ['cache_read', tokens?.cacheRead], ['cache_write', tokens?.cacheWrite]] as const) {
        if (n) aiTokens.labels(provider, type).inc(n);
      }
    },
    storyCache: (result) => cache.labels(result).inc(),
    githubCall({ method, route, status, seconds }) {
      github.labels(method, route, String(status)).inc();
      githubSeconds.labels(method, route).observe(seconds);
    },
    githubRateLimit(resource, remaining, limit) {
      githubRemaining.labels(resource).set(remaining);
      if (limit) githubLimit.labels(resource).set(limit);
    },
    chatCall: (platform, operation, outcome) => chat.labels(platform, operation, outcome).inc(),
    chatRateLimited: (platform) => chat429.labels(platform).inc(),
  };

  const collectors = new Map<string, { read: Collector; timeoutMs: number }>();
  /** Every scrape-time reading, in parallel, each within its time limit. */
  async function refresh(): Promise<void> {
    await Promise.all(
      [...collectors].map(async ([name, c]) => {
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([
          Promise.resolve()
            .then(c.read)
            .then(() => true, () => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), c.timeoutMs);
          }),
        ]);
        clearTimeout(timer);
        collectorUp.labels(name).set(ok ? 1 : 0);
      }),
    );
  }

  return {
    registry,
    http,
    core,
    collect: (name, read, timeoutMs = 500) => void collectors.set(name, { read, timeoutMs }),
    async render() {
      await refresh();
      return registry.metrics();
    },
    gauges: {
      queueJobs: gauge('autodevhub_queue_jobs', 'Jobs per queue and state (waiting, active, delayed, failed, completed, prioritized, waiting-children)', ['queue', 'state']),
      approvalsWaiting: gauge('autodevhub_approvals_waiting', 'Deploys waiting for approval'),
      approvalOldestWait: gauge('autodevhub_approval_oldest_wait_seconds', 'How long the oldest deploy waiting for approval has waited'),
      sockets: gauge('autodevhub_socket_connections', 'Socket.IO connections on this process (console and widgets)'),
    },
  };
}
