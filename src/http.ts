import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { AppError } from './core/errors.js';
import type { SlackAdapter } from './bots/slack/index.js';
import type { createGitHubWebhooks } from './bots/github/index.js';
import type { DiscordAdapter } from './bots/discord/index.js';
import type { TeamsAdapter } from './bots/teams/index.js';

export interface HttpDeps {
  logger: Logger;
  slack: SlackAdapter | { disabled: string };
  github: ReturnType<typeof createGitHubWebhooks> | { disabled: string };
  discord: DiscordAdapter | { disabled: string };
  teams: TeamsAdapter | { disabled: string };
  web: Hono;
  ready(): Promise<Record<string, boolean>>;
}

/** Slack's payloads are small; anything near this is not Slack. */
const SLACK_MAX_BODY = 1024 * 1024;
/** GitHub caps webhook payloads at 25 MB. */
const GITHUB_MAX_BODY = 25 * 1024 * 1024;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'autodevhub_' });
  const requests = new Histogram({
    name: 'autodevhub_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [registry],
  });
  const platformRequests = new Counter({
    name: 'autodevhub_platform_requests_total',
    help: 'Requests from chat platforms by outcome',
    labelNames: ['platform', 'outcome'] as const,
    registers: [registry],
  });
  return { registry, requests, platformRequests };
}

export function createHttpApp(deps: HttpDeps): Hono {
  const metrics = createMetrics();
  const app = new Hono();
  app.use(requestId());
  app.use(async function timing(c, next) {
    const started = performance.now();
    await next();
    metrics.requests.labels(c.req.routePath || 'unmatched', c.req.method, String(c.res.status)).observe((performance.now() - started) / 1000);
  });

  app.onError((err, c) => {
    if (err instanceof AppError) {
      return c.json({ error: err.code, message: err.message, requestId: c.get('requestId') }, err.status as 400);
    }
    deps.logger.error({ err, requestId: c.get('requestId') }, 'unhandled error');
    return c.json({ error: 'internal', message: 'Something went wrong on our side.', requestId: c.get('requestId') }, 500);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` }, 404));

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const checks = await deps.ready();
    const ok = Object.values(checks).every(Boolean);
    return c.json({ ok, checks }, ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.post('/slack/events', async (c) => {
    const slack = deps.slack;
    if ('disabled' in slack) {
      metrics.platformRequests.labels('slack', 'disabled').inc();
      return c.json({ error: 'platform_disabled', message: slack.disabled }, 503);
    }
    const rawBody = await readRawBody(c, SLACK_MAX_BODY);
    if (rawBody === undefined) {
      metrics.platformRequests.labels('slack', '413').inc();
      // The rest of the body is never read, so the connection cannot carry another request.
      return c.json({ error: 'payload_too_large', message: `Slack requests are at most ${SLACK_MAX_BODY} bytes` }, 413, { connection: 'close' });
    }
    const res = await slack.handle({
      rawBody,
      contentType: c.req.header('content-type'),
      signature: c.req.header('x-slack-signature'),
      timestamp: c.req.header('x-slack-request-timestamp'),
      retryNum: c.req.header('x-slack-retry-num'),
      retryReason: c.req.header('x-slack-retry-reason'),
    });
    metrics.platformRequests.labels('slack', String(res.status)).inc();
    return c.body(res.body, res.status as 200, { 'content-type': res.contentType });
  });

  app.post('/discord/interactions', async (c) => {
    const discord = deps.discord;
    if ('disabled' in discord) return c.json({ error: 'platform_disabled', message: discord.disabled }, 503);
    const rawBody = await readRawBody(c, SLACK_MAX_BODY);
    if (rawBody === undefined) return c.json({ error: 'payload_too_large', message: 'Discord interactions are small' }, 413, { connection: 'close' });
    const res = await discord.handle({ rawBody, signature: c.req.header('x-signature-ed25519'), timestamp: c.req.header('x-signature-timestamp') });
    metrics.platformRequests.labels('discord', String(res.status)).inc();
    return c.json(res.body as Record<string, unknown>, res.status as 200);
  });

  app.post('/api/messages', async (c) => {
    const teams = deps.teams;
    if ('disabled' in teams) return c.json({ error: 'platform_disabled', message: teams.disabled }, 503);
    const rawBody = await readRawBody(c, SLACK_MAX_BODY);
    if (rawBody === undefined) return c.json({ error: 'payload_too_large', message: 'Bot Framework activities are small' }, 413, { connection: 'close' });
    const res = await teams.handle({ rawBody, headers: Object.fromEntries(Object.entries(c.req.header()).map(([k, v]) => [k.toLowerCase(), v])) });
    metrics.platformRequests.labels('teams', String(res.status)).inc();
    return c.json((res.body ?? {}) as Record<string, unknown>, res.status as 200);
  });

  app.post('/github/webhooks', async (c) => {
    const github = deps.github;
    if ('disabled' in github) return c.json({ error: 'platform_disabled', message: github.disabled }, 503);
    const rawBody = await readRawBody(c, GITHUB_MAX_BODY);
    if (rawBody === undefined) {
      return c.json({ error: 'payload_too_large', message: `GitHub webhooks are at most ${GITHUB_MAX_BODY} bytes` }, 413, { connection: 'close' });
    }
    const res = await github.handle({
      rawBody,
      event: c.req.header('x-github-event'),
      deliveryId: c.req.header('x-github-delivery'),
      signature: c.req.header('x-hub-signature-256'),
    });
    metrics.platformRequests.labels('github', String(res.status)).inc();
    return c.json(res.body, res.status as 200);
  });

  app.route('/', deps.web);
  return app;
}

/**
 * The raw body, exactly as signed, or undefined when it is larger than `max`. Read from Node's
 * request when running on @hono/node-server: building a web Request and stream for every
 * webhook costs more than the rest of the acknowledgement path.
 */
export async function readRawBody(c: Context, max: number): Promise<string | undefined> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > max) return undefined;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.readableEnded) {
    const text = await c.req.text();
    return Buffer.byteLength(text) > max ? undefined : text;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
