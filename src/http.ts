import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { AppError } from './core/errors.js';
import type { DisabledPlatform, PlatformAdapter } from './core/chat.js';

export interface HttpDeps {
  logger: Logger;
  /** Every chat platform and GitHub, each on its own route; disabled ones answer 503. */
  platforms: Array<PlatformAdapter | DisabledPlatform>;
  web: Hono;
  ready(): Promise<Record<string, boolean>>;
}


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

  for (const platform of deps.platforms) {
    app.post(platform.route, async function platformWebhook(c) {
      if ('disabled' in platform) {
        metrics.platformRequests.labels(platform.platform, 'disabled').inc();
        return c.json({ error: 'platform_disabled', message: platform.disabled }, 503);
      }
      const rawBody = await readRawBody(c, platform.maxBodyBytes);
      if (rawBody === undefined) {
        metrics.platformRequests.labels(platform.platform, '413').inc();
        // The rest of the body is never read, so the connection cannot carry another request.
        return c.json({ error: 'payload_too_large', message: `${platform.platform} requests are at most ${platform.maxBodyBytes} bytes` }, 413, { connection: 'close' });
      }
      const res = await platform.handle({ rawBody, headers: c.req.header() });
      metrics.platformRequests.labels(platform.platform, String(res.status)).inc();
      const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
      return c.body(body, res.status as 200, { 'content-type': res.contentType ?? 'application/json', ...res.headers });
    });
  }

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
