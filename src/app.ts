import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { secretsOf, type AppConfig } from './core/config.js';
import type { CoreContext } from './core/context.js';
import type { ChatAdapter, DisabledPlatform, PlatformAdapter } from './core/chat/adapter.js';
import type { StoryProvider } from './core/ai/provider.js';
import { createLogger, type Logger } from './core/logger.js';
import { openDatabase, type Database } from './core/db/orm.js';
import { createRedisStoryCache } from './core/stories/cache.js';
import { syncProjects } from './core/projects/service.js';
import { createRunIntake } from './core/runs/intake.js';
import { createSignInToken } from './core/access/sessions.js';
import { syncPeople } from './core/access/people.js';
import { can, requireScope } from './core/access/authorize.js';
import { actorForApiToken, isApiToken } from './core/access/api-tokens.js';
import { ForbiddenError } from './core/errors.js';
import { readableProjects } from './core/access/reads.js';
import { onAccessChanged } from './core/access/epoch.js';
import type { Actor } from './core/context.js';
import { createRateLimits } from './jobs/rate-limits.js';
import { createRedis, checkRedis } from './jobs/redis.js';
import { RedisUnavailableError, redisAnswers, resolveLocalRedis } from './jobs/local-redis.js';
import { createQueues, type Queues } from './jobs/queues.js';
import { createStoryWorker } from './jobs/story/worker.js';
import { createChatWorker } from './jobs/chat/worker.js';
import { defaultLimits } from './jobs/chat/pacing.js';
import { requeueUnfinishedRuns, startSweeps } from './jobs/sweeps.js';
import { createDeployWorker } from './jobs/deploy/worker.js';
import { createDocsWorker } from './jobs/docs/worker.js';
import { createGitHub } from './core/github/client.js';
import { createAiAdapters } from './integrations/ai.js';
import { policyFor } from './core/deploys/policy.js';
import { createIssueTrackers } from './core/exports/trackers.js';
import { createJira } from './core/exports/jira.js';
import { createLinear } from './core/exports/linear.js';
import { createSmtpMailer } from './core/notify/email.js';
import { createNotifyWorkers } from './jobs/notify/worker.js';
import { createRedisPublisher } from './realtime/publisher.js';
import { controlChannel, createRealtime, HandshakeRefused, type Realtime } from './realtime/socket.js';
import { verifyWidgetToken } from './core/access/widget-tokens.js';
import { createSlackAdapter } from './bots/slack/index.js';
import { createGitHubWebhooks } from './bots/github/index.js';
import { createDiscordAdapter } from './bots/discord/index.js';
import { createTeamsAdapter } from './bots/teams/index.js';
import { createWebRoutes, sessionActor, sessionFromCookieHeader } from './bots/web/index.js';
import { createQueueBoard } from './bots/web/queue-board.js';
import { clientIp } from './bots/web/auth.js';
import { createHttpApp } from './http.js';
import { createMetrics, type Metrics } from './metrics.js';
import { readiness } from './readiness.js';
import { readinessProbes, registerCollectors } from './operations.js';
import { measuredChatAdapter, measuredDocsWriter, measuredProvider, measuredStoryCache } from './core/metrics.js';

export interface StartOptions {
  logger?: Logger;
  /** Where the logger made from the configuration writes (default: standard output). */
  logDestination?: DestinationStream;
  /** Print the console URL and a one-time sign-in link (the default for `npm start`). */
  announce?: boolean;
  /** Replace the story provider (benchmarks measure ingress without generation). */
  provider?: StoryProvider;
  /** Graceful shutdown budget before running jobs are handed back to the queue. */
  shutdownGraceMs?: number;
  /** Scales GitHub's retry-after (1000 = as GitHub says); tests shorten the waits. */
  githubRetryAfterBaseMs?: number;
}

export interface Running {
  config: AppConfig;
  logger: Logger;
  db: Database;
  queues: Queues;
  /** The base URL the server listens on (a worker serves only its health and metrics routes there). */
  url: string | undefined;
  port: number | undefined;
  signInUrl: string | undefined;
  workers: Worker[];
  metrics: Metrics;
  context(): CoreContext;
  close(): Promise<void>;
}

export async function startAutoDevHub(config: AppConfig, opts: StartOptions = {}): Promise<Running> {
  const logger = opts.logger ?? createLogger(config.logLevel, { secrets: secretsOf(config), ...(opts.logDestination && { destination: opts.logDestination }) });
  const cleanups: Array<() => Promise<unknown>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => logger.warn({ err }, 'error during shutdown'));
  };

  let lastRedisError = 0;
  const onRedisError = (err: Error) => {
    // Reconnects are automatic; one line per 5 s is enough to see an outage in the logs.
    if (Date.now() - lastRedisError > 5000) logger.warn({ err: err.message }, 'Redis connection error; reconnecting');
    lastRedisError = Date.now();
  };
  try {
    // Traces (OTEL_EXPORTER_OTLP_ENDPOINT): loaded first, so that what follows is traced; shut down last.
    const tracing = config.tracing ? await (await import('./tracing.js')).startTracing(config.tracing) : undefined;
    if (tracing) cleanups.push(() => tracing.shutdown());
    const telemetry = tracing?.telemetry;
    const redisUrl = await connectableRedis(config, logger, cleanups);
    const redis = createRedis(redisUrl, {}, onRedisError);
    cleanups.push(() => redis.quit());
    await checkRedis(redis);

    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
    cleanups.push(() => db.close());
    if (config.databaseUrl) logger.info(`using the Postgres at ${withoutPassword(config.databaseUrl)} (DATABASE_URL)`);
    await syncProjects(db.orm.em.fork(), config.projects);
    logStartup(config, logger);
    await syncPeople(db.orm.em.fork(), config.access.people);
    // Short commands many requests send at once (rate limits, publishing, job-owner checks):
    // auto-pipelined, so the commands of one tick share one write; no BullMQ scripts are defined
    // on it, so its pipelines are cheap to make.
    const fastRedis = createRedis(redisUrl, { enableAutoPipelining: true }, onRedisError);
    cleanups.push(() => fastRedis.quit());
    const limits = createRateLimits(fastRedis, config.queuePrefix, config.limits);

    const metrics = createMetrics();
    const ai = createAiAdapters(config, logger);
    logger.info({ aiProvider: config.aiProvider, model: ai.provider.model }, ai.startup);
    const provider = measuredProvider(opts.provider ?? ai.provider, metrics.core);
    const docsWriter = measuredDocsWriter(ai.docsWriter, metrics.core);
    const publisher = createRedisPublisher(fastRedis, config.queuePrefix);
    const notifications = Boolean(config.email) || config.projects.some((p) => p.webhooks.length > 0);
    const queues = createQueues(redis, config.queuePrefix, {
      reads: fastRedis,
      installation: await db.installationId(),
      logger,
      telemetry,
      notifications,
      webhookAttempts: config.webhooks.attempts,
      webhookBackoffMs: config.webhooks.backoffMs,
    });
    cleanups.push(() => queues.close());
    const cache = measuredStoryCache(createRedisStoryCache(redis, config.queuePrefix), metrics.core);
    const intake = createRunIntake({ em: () => db.orm.em.fork(), scheduler: queues.scheduler, publisher, logger });
    // Commands already taken in are written before the database and queues close.
    cleanups.push(() => intake.drain());
    const coreConfig = {
      publicUrl: config.publicUrl,
      admins: [...config.admins, 'web:admin'],
      storyCacheTtlSeconds: config.storyCacheTtlSeconds,
      deployPollBaseMs: config.deployPollBaseMs,
      docsBudgetChars: config.docsBudgetChars,
      projects: config.projects,
      emails: config.emails,
      webhooks: config.webhooks,
      access: config.access,
    };
    const github = 'disabled' in config.github ? undefined : createGitHub({ token: config.github.token, apiUrl: config.github.apiUrl, logger, metrics: metrics.core, ...(opts.githubRetryAfterBaseMs !== undefined && { retryAfterBaseMs: opts.githubRetryAfterBaseMs }) });
    if ('disabled' in config.github) logger.info(`${config.github.disabled}; deploys and documentation updates are off`);
    const changeSummariser = ai.changeSummariser;
    const trackers = createIssueTrackers({ github, jira: config.jira && createJira(config.jira), linear: config.linear && createLinear(config.linear) });
    const mailer = config.email && createSmtpMailer(config.email);
    if (mailer) cleanups.push(async () => mailer.close());
    const context = (): CoreContext => ({
      // Made on first use: a request answered from caches never forks one.
      get em() {
        Object.defineProperty(this, 'em', { value: db.orm.em.fork(), enumerable: true });
        return this.em;
      },
      publisher,
      scheduler: queues.scheduler,
      intake,
      provider,
      cache,
      github,
      docsWriter,
      changeSummariser,
      trackers,
      mailer,
      config: coreConfig,
      limits,
      logger,
      metrics: metrics.core,
    });

    // Each platform is on when its secrets are set, and says once at start why it is off.
    const platforms: Array<PlatformAdapter | DisabledPlatform> = [
      'disabled' in config.slack
        ? { platform: 'slack', route: '/slack/events', disabled: config.slack.disabled }
        : createSlackAdapter({ config: config.slack, logger, publicUrl: config.publicUrl, context }),
      'disabled' in config.discord
        ? { platform: 'discord', route: '/discord/interactions', disabled: config.discord.disabled }
        : createDiscordAdapter({ config: config.discord, logger, publicUrl: config.publicUrl, context }),
      'disabled' in config.teams
        ? { platform: 'teams', route: '/api/messages', disabled: config.teams.disabled }
        : createTeamsAdapter({ config: config.teams, logger, context }),
      'disabled' in config.github
        ? { platform: 'github', route: '/github/webhooks', disabled: `${config.github.disabled} (webhooks)` }
        : config.github.webhookSecret
          ? createGitHubWebhooks({ secret: config.github.webhookSecret, logger, context })
          : { platform: 'github', route: '/github/webhooks', disabled: 'GitHub webhooks are not configured: set GITHUB_WEBHOOK_SECRET' },
    ];
    const adapters = new Map<string, ChatAdapter>();
    for (const p of platforms) {
      if ('disabled' in p) {
        // GitHub said so once already, above.
        if (p.platform !== 'github' || !('disabled' in config.github)) logger.info(p.disabled);
        continue;
      }
      if (p.chat) adapters.set(p.platform, measuredChatAdapter(p.chat, metrics.core));
      if (p.close) cleanups.push(async () => p.close?.());
    }

    const workers: Worker[] = [];
    if (config.role !== 'web') {
      const workerConnection = createRedis(redisUrl, {}, onRedisError);
      // Closed after the workers (registered first, so it runs last).
      cleanups.push(() => workerConnection.quit());
      workers.push(
        createStoryWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context, telemetry }),
        createDeployWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context, telemetry }),
        createDocsWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context, telemetry }),
        createChatWorker({
          telemetry,
          connection: workerConnection,
          prefix: config.queuePrefix,
          concurrency: config.workerConcurrency,
          adapters,
          em: () => db.orm.em.fork(),
          publicUrl: config.publicUrl,
          logger,
          projects: config.projects,
          githubOn: Boolean(github),
          limits: defaultLimits(config.slackChannelIntervalMs, config.slackChannelBurst),
        }),
        ...createNotifyWorkers({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context }),
      );
      for (const w of workers) {
        w.on('error', (err) => logger.error({ err, queue: w.name }, 'worker error'));
        w.on('failed', (job, err) => {
          // Another render of the same run holds its lock: an expected retry, not a problem.
          const level = err.name === 'ChatBusyError' ? 'debug' : 'warn';
          const ids = { queue: w.name, jobId: job?.id, run: job?.data.run, requestId: job?.data.requestId, deliveryId: job?.data.deliveryId };
          logger[level]({ ...ids, err: err.message }, level === 'debug' ? 'job retried' : 'job failed');
        });
      }
      const grace = opts.shutdownGraceMs ?? 8000;
      cleanups.push(() => closeWorkers(workers, grace, logger));
      const approvalTimeoutMs = (run: { projectKey: string | null; input: { environment: string; trigger?: string | undefined } }) => {
        const project = config.projects.find((p) => p.key === run.projectKey);
        return project?.environments[run.input.environment] ? policyFor(project, run.input.environment, run).timeout : undefined;
      };
      const sweepOptions = {
        em: () => db.orm.em.fork(),
        queues,
        connection: redis,
        prefix: config.queuePrefix,
        logger,
        ...config.sweeps,
        approvalTimeoutMs,
        notifications,
      };
      // At start, and then while running: a Redis that comes back empty loses no run.
      await requeueUnfinishedRuns(sweepOptions);
      const stopSweeps = startSweeps(sweepOptions);
      cleanups.push(stopSweeps);
    }

    let url: string | undefined;
    let port: number | undefined;
    let signInUrl: string | undefined;
    let realtimeServer: Realtime | undefined;
    // Made once: the outside checks' cache lives as long as the process.
    const probes = readinessProbes(db, redis, github, platforms, config.readyzCacheMs);
    const ready = () => readiness(probes);
    if (config.role === 'worker') {
      // A worker serves only /healthz, /readyz and /metrics, for its container's health check and Prometheus.
      const health = createAdaptorServer({ fetch: createHttpApp({ logger, platforms: [], web: new Hono(), metrics, ready }).fetch }) as HttpServer;
      await listen(health, config.port, config.host);
      cleanups.push(() => new Promise<void>((resolve) => {
        health.close(() => resolve());
        health.closeAllConnections?.();
      }));
      port = (health.address() as AddressInfo).port;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    } else {
      const subscriber = createRedis(redisUrl, {}, onRedisError);
      cleanups.push(() => subscriber.quit());
      const board = createQueueBoard([queues.story, queues.docs, queues.deploy, queues.chat]);
      cleanups.push(async () => board.close());
      // The actor behind each session's sockets (groups from its sign-in included).
      const sessionActors = new Map<number, Actor>();
      // An API token's sockets (the CLI) act as the token: its scopes travel in the principal, so no
      // lookup can fall back to the person's full rights.
      const actorOf = (principal: { subject: string; sessionId?: number; scopes?: string[] }): Actor =>
        principal.scopes
          ? { id: principal.subject, platform: 'api', channel: null, scopes: principal.scopes }
          : // A fresh object per check: core memoises a principal per actor object, and a socket lives long.
            { ...((principal.sessionId && sessionActors.get(principal.sessionId)) || { id: principal.subject, platform: 'web', channel: null }) };
      const control = (message: Record<string, unknown>) => redis.publish(controlChannel(config.queuePrefix), JSON.stringify(message)).then(() => undefined);
      // Every web process re-checks its sockets' subscriptions when a role, identity or link changes.
      const stopAnnouncing = onAccessChanged(() => {
        control({ type: 'access-changed' }).catch((err: unknown) => logger.warn({ err }, 'could not announce an access change'));
      });
      cleanups.push(async () => stopAnnouncing());
      const web = createWebRoutes({
        queueBoard: board.app,
        secret: config.secret,
        secureCookies: config.publicUrl.startsWith('https:'),
        publicUrl: () => coreConfig.publicUrl,
        context,
        logger,
        sessionTtlSeconds: config.sessionTtlSeconds,
        trustProxy: config.trustProxy,
        oidc: config.oidc,
        apiWindowMs: config.limits.api.durationMs,
        // Every web process disconnects the sockets of a revoked token or ended session, not only this one.
        onTokenRevoked: (tokenId) => control({ type: 'revoke', tokenId }),
        onSessionsEnded: async (ids) => {
          if (ids.length) await control({ type: 'sessions-ended', sessionIds: ids });
        },
      });
      const app = createHttpApp({
        logger,
        platforms,
        web,
        metrics,
        ready,
        limits,
        clientIp: (c) => clientIp(c, config.trustProxy),
      });
      const server = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
      // Slack, Discord and GitHub keep connections alive; idle ones must not outlive a shutdown.
      server.keepAliveTimeout = 5000;
      let realtime: Realtime | undefined;
      realtimeServer = realtime = await createRealtime({
        httpServer: server,
        subscriber,
        prefix: config.queuePrefix,
        em: () => db.orm.em.fork(),
        logger,
        authenticate: async (handshake) => {
          const origin = handshake.headers.origin;
          const token = (handshake.auth as { token?: unknown } | undefined)?.token;
          if (typeof token === 'string' && isApiToken(token)) {
            const actor = await actorForApiToken(db.orm.em.fork(), token);
            if (!actor) throw new HandshakeRefused('unauthorized: the API token is unknown, expired or revoked');
            // A token without the read scope could subscribe to nothing: refused at the door, by core's rule.
            try {
              requireScope(actor, 'run.read');
            } catch (err) {
              throw err instanceof ForbiddenError ? new HandshakeRefused(`forbidden: ${err.message}`) : err;
            }
            const rate = await limits.consume('sockets', `api:${actor.tokenId}`);
            if (!rate.ok) throw new HandshakeRefused(`too many connections for this API token: try again in ${Math.max(1, Math.ceil(rate.resetMs / 1000))} s`);
            return { subject: actor.id, scopes: actor.scopes ?? [], tokenId: `api:${actor.tokenId}` };
          }
          if (typeof token === 'string' && token) {
            const check = await verifyWidgetToken(db.orm.em.fork(), config.secret, token, origin);
            if (!check.ok) throw new HandshakeRefused(check.reason);
            // Connections per widget token: a page reconnecting in a loop is slowed, not served.
            const rate = await limits.consume('sockets', `widget:${check.principal.tokenId}`);
            if (!rate.ok) throw new HandshakeRefused(`too many connections for this widget token: try again in ${Math.max(1, Math.ceil(rate.resetMs / 1000))} s`);
            return { subject: `widget:${check.principal.tokenId}`, projectKey: check.principal.projectKey, tokenId: check.principal.tokenId };
          }
          const session = await sessionFromCookieHeader(context(), handshake.headers.cookie);
          if (!session) return undefined;
          // A console session is honoured only from the console's own origin: no other page may
          // ride on the cookie (cross-site WebSocket hijacking).
          const own = [new URL(coreConfig.publicUrl).origin, `http://${handshake.headers.host}`, `https://${handshake.headers.host}`];
          if (origin && !own.includes(origin)) throw new HandshakeRefused(`forbidden: console sessions are not accepted from ${origin}`);
          if (sessionActors.size > 5000) sessionActors.delete(sessionActors.keys().next().value!);
          sessionActors.set(session.id, sessionActor(session));
          return { subject: session.subject, sessionId: session.id };
        },
        access: {
          canReadRun: async (principal, run) => (await can(context(), actorOf(principal), 'run.read', { run })).allowed,
          readableProjects: (principal) => readableProjects(context(), actorOf(principal)),
        },
      });
      await listen(server, config.port, config.host);
      cleanups.push(async () => {
        server.closeIdleConnections?.();
        await realtime?.close();
      });
      port = (server.address() as AddressInfo).port;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      const base = config.publicUrl.replace(`:${config.port}`, config.port === 0 ? `:${port}` : `:${config.port}`);
      // With PORT=0 the real port is known only now: links in replies and chat use it.
      if (config.port === 0) coreConfig.publicUrl = base;
      signInUrl = `${base}/auth/signin?token=${await createSignInToken(db.orm.em.fork(), 'web:admin')}`;
      if (opts.announce !== false) {
        logger.info({ url: base }, 'AutoDevHub is listening');
        // Written past the logger, which would scrub the link's token. On a terminal as lines a
        // person reads; through a pipe as one more JSON line, so every line of the output parses.
        process.stdout.write(
          process.stdout.isTTY
            ? `\nAutoDevHub console: ${base}/\nOne-time sign-in link (valid 24 h): ${signInUrl}\n\n`
            : `${JSON.stringify({ level: 30, time: Date.now(), msg: `One-time sign-in link (valid 24 h): ${signInUrl}`, console: `${base}/`, signInLink: signInUrl })}\n`,
        );
      }
    }

    registerCollectors(metrics, { queues, redis, db, ...(realtimeServer && { sockets: () => realtimeServer!.io.engine.clientsCount }) });

    return {
      config,
      logger,
      metrics,
      db,
      queues,
      url,
      port,
      signInUrl,
      workers,
      context,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function listen(server: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/**
 * An explicit REDIS_URL is used as it is, and must answer now (ioredis would otherwise wait for it
 * forever). Unset: a local one is found or started (src/jobs/local-redis.ts), stopped last.
 */
async function connectableRedis(config: AppConfig, logger: Logger, cleanups: Array<() => Promise<unknown>>): Promise<string> {
  if (!config.redisUrl) {
    const local = await resolveLocalRedis({ dataDir: config.dataDir, logger });
    if (local.stop) cleanups.push(local.stop);
    return local.url;
  }
  const shown = withoutPassword(config.redisUrl);
  if (!(await redisAnswers(config.redisUrl, 3000))) {
    throw new RedisUnavailableError(`REDIS_URL: nothing answers at ${shown}. Start that Redis, or unset REDIS_URL to use a local one.`);
  }
  logger.info(`using the Redis at ${shown} (REDIS_URL)`);
  return config.redisUrl;
}

function withoutPassword(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** What a person starting AutoDevHub wants to know first: which file, projects and platforms. */
function logStartup(config: AppConfig, logger: Logger) {
  logger.info(
    { configFile: config.configFile ?? null, projects: config.projects.map((p) => p.key) },
    config.configFile ? `read ${config.configFile}: ${config.projects.length} project(s)` : 'no autodevhub.yaml: no projects configured (see autodevhub.example.yaml)',
  );
  const on = (['slack', 'discord', 'teams', 'github'] as const).filter((k) => !('disabled' in config[k]));
  logger.info({ platforms: on }, on.length ? `platforms on: ${on.join(', ')}` : 'no chat platform configured: use the web console');
}

/** Lets running jobs finish; past the grace period they are handed back to the queue (stalled → retried). */
async function closeWorkers(workers: Worker[], graceMs: number, logger: Logger): Promise<void> {
  const graceful = Promise.all(workers.map((w) => w.close()));
  const timedOut = await Promise.race([
    graceful.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
  ]);
  if (timedOut) {
    logger.warn('jobs still running at shutdown; they return to the queue');
    await Promise.all(workers.map((w) => w.close(true)));
  }
}

export type { Redis };
