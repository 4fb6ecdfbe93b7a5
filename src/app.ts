import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppConfig } from './core/config.js';
import type { CoreContext } from './core/context.js';
import type { ChatAdapter, DisabledPlatform, PlatformAdapter } from './core/chat.js';
import type { StoryProvider } from './core/ai/provider.js';
import { createLogger, type Logger } from './core/logger.js';
import { openDatabase, type Database } from './core/db/orm.js';
import { createOfflineProvider } from './core/ai/offline.js';
import { createClaudeProvider } from './core/ai/claude.js';
import { createRedisStoryCache } from './core/services/story-cache.js';
import { syncProjects } from './core/services/projects.js';
import { createRunIntake } from './core/services/intake.js';
import { createSignInToken } from './core/services/auth.js';
import { createRedis, checkRedis } from './jobs/redis.js';
import { createQueues, type Queues } from './jobs/queues.js';
import { createStoryWorker } from './jobs/story/worker.js';
import { createChatWorker } from './jobs/chat/worker.js';
import { requeueUnfinishedRuns } from './jobs/recovery.js';
import { createDeployWorker } from './jobs/deploy/worker.js';
import { createDocsWorker } from './jobs/docs/worker.js';
import { createOfflineDocsWriter } from './core/docs/writer.js';
import { createClaudeDocsWriter } from './core/docs/claude.js';
import { createGitHub } from './core/github/client.js';
import { createRedisPublisher } from './realtime/publisher.js';
import { controlChannel, createRealtime, HandshakeRefused, type Realtime } from './realtime/socket.js';
import { verifyWidgetToken } from './core/services/widget-tokens.js';
import { createSlackAdapter } from './bots/slack/index.js';
import { createGitHubWebhooks } from './bots/github/index.js';
import { createDiscordAdapter } from './bots/discord/index.js';
import { createTeamsAdapter } from './bots/teams/index.js';
import { createWebRoutes, sessionFrom } from './bots/web/index.js';
import { createHttpApp } from './http.js';

export interface StartOptions {
  logger?: Logger;
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
  /** The base URL the server listens on (web roles only). */
  url: string | undefined;
  port: number | undefined;
  signInUrl: string | undefined;
  workers: Worker[];
  context(): CoreContext;
  close(): Promise<void>;
}

export async function startAutoDevHub(config: AppConfig, opts: StartOptions = {}): Promise<Running> {
  const logger = opts.logger ?? createLogger(config.logLevel);
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
    const redis = createRedis(config.redisUrl, {}, onRedisError);
    cleanups.push(() => redis.quit());
    await checkRedis(redis);

    const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
    cleanups.push(() => db.close());
    await syncProjects(db.orm.em.fork(), config.projects);

    const provider =
      opts.provider ?? (config.anthropic ? createClaudeProvider(config.anthropic) : createOfflineProvider());
    if (provider.name === 'offline') {
      logger.info('ANTHROPIC_API_KEY is not set: stories come from the offline generator, and are labelled so');
    }
    const docsWriter = config.anthropic ? createClaudeDocsWriter(config.anthropic) : createOfflineDocsWriter();
    const publisher = createRedisPublisher(redis, config.queuePrefix);
    const queues = createQueues(redis, config.queuePrefix);
    cleanups.push(() => queues.close());
    const cache = createRedisStoryCache(redis, config.queuePrefix);
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
    };
    const github = 'disabled' in config.github ? undefined : createGitHub({ token: config.github.token, apiUrl: config.github.apiUrl, logger, ...(opts.githubRetryAfterBaseMs !== undefined && { retryAfterBaseMs: opts.githubRetryAfterBaseMs }) });
    if ('disabled' in config.github) logger.info(`${config.github.disabled}; deploys are off`);
    const context = (): CoreContext => ({
      em: db.orm.em.fork(),
      publisher,
      scheduler: queues.scheduler,
      intake,
      provider,
      cache,
      github,
      docsWriter,
      config: coreConfig,
      logger,
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
        logger.info(p.disabled);
        continue;
      }
      if (p.chat) adapters.set(p.platform, p.chat);
      if (p.close) cleanups.push(async () => p.close?.());
    }

    const workers: Worker[] = [];
    if (config.role !== 'web') {
      const workerConnection = createRedis(config.redisUrl, {}, onRedisError);
      // Closed after the workers (registered first, so it runs last).
      cleanups.push(() => workerConnection.quit());
      workers.push(
        createStoryWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context }),
        createDeployWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context }),
        createDocsWorker({ connection: workerConnection, prefix: config.queuePrefix, concurrency: config.workerConcurrency, context }),
        createChatWorker({
          connection: workerConnection,
          prefix: config.queuePrefix,
          concurrency: config.workerConcurrency,
          adapters,
          em: () => db.orm.em.fork(),
          publicUrl: config.publicUrl,
          logger,
        }),
      );
      for (const w of workers) {
        w.on('error', (err) => logger.error({ err, queue: w.name }, 'worker error'));
        w.on('failed', (job, err) => logger.warn({ queue: w.name, jobId: job?.id, err: err.message }, 'job failed'));
      }
      const grace = opts.shutdownGraceMs ?? 8000;
      cleanups.push(() => closeWorkers(workers, grace, logger));
      await requeueUnfinishedRuns(db.orm.em.fork(), { story: queues.story, docs: queues.docs, deploy: queues.deploy }, logger, (run) => {
        const project = config.projects.find((p) => p.key === run.projectKey);
        return project?.environments[String(run.input.environment)]?.timeout;
      });
    }

    let url: string | undefined;
    let port: number | undefined;
    let signInUrl: string | undefined;
    if (config.role !== 'worker') {
      const subscriber = createRedis(config.redisUrl, {}, onRedisError);
      cleanups.push(() => subscriber.quit());
      const web = createWebRoutes({
        secret: config.secret,
        secureCookies: config.publicUrl.startsWith('https:'),
        context,
        admins: coreConfig.admins,
        // Every web process disconnects the sockets of a revoked token, not only this one.
        onWidgetTokenRevoked: async (tokenId) => {
          await redis.publish(controlChannel(config.queuePrefix), JSON.stringify({ type: 'revoke', tokenId }));
        },
      });
      const app = createHttpApp({
        logger,
        platforms,
        web,
        ready: async () => ({
          database: await db.orm.isConnected(),
          redis: await redis.ping().then(
            (r) => r === 'PONG',
            () => false,
          ),
        }),
      });
      const server = createAdaptorServer({ fetch: app.fetch }) as HttpServer;
      // Slack, Discord and GitHub keep connections alive; idle ones must not outlive a shutdown.
      server.keepAliveTimeout = 5000;
      let realtime: Realtime | undefined;
      realtime = await createRealtime({
        httpServer: server,
        subscriber,
        prefix: config.queuePrefix,
        em: () => db.orm.em.fork(),
        logger,
        authenticate: async (handshake) => {
          const origin = handshake.headers.origin;
          const token = (handshake.auth as { token?: unknown } | undefined)?.token;
          if (typeof token === 'string' && token) {
            const check = await verifyWidgetToken(db.orm.em.fork(), config.secret, token, origin);
            if (!check.ok) throw new HandshakeRefused(check.reason);
            return { subject: `widget:${check.principal.tokenId}`, projectKey: check.principal.projectKey, tokenId: check.principal.tokenId };
          }
          const session = await sessionFrom(config.secret, handshake.headers.cookie);
          if (!session) return undefined;
          // A console session is honoured only from the console's own origin: no other page may
          // ride on the cookie (cross-site WebSocket hijacking).
          const own = [new URL(config.publicUrl).origin, `http://${handshake.headers.host}`, `https://${handshake.headers.host}`];
          if (origin && !own.includes(origin)) throw new HandshakeRefused(`forbidden: console sessions are not accepted from ${origin}`);
          return { subject: session.subject };
        },
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      cleanups.push(async () => {
        server.closeIdleConnections?.();
        await realtime?.close();
      });
      port = (server.address() as AddressInfo).port;
      url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      const base = config.publicUrl.replace(`:${config.port}`, config.port === 0 ? `:${port}` : `:${config.port}`);
      signInUrl = `${base}/auth/signin?token=${await createSignInToken(db.orm.em.fork(), 'web:admin')}`;
      if (opts.announce !== false) {
        logger.info({ url: base }, 'AutoDevHub is listening');
        process.stdout.write(
          `\nAutoDevHub console: ${base}/\nOne-time sign-in link (valid 24 h): ${signInUrl}\n\n`,
        );
      }
    }

    return {
      config,
      logger,
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
