import type { IncomingMessage } from 'node:http';
import { trace } from '@opentelemetry/api';
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import { notFoundPage } from './bots/web/app/errors.js';
import { AppError } from './core/errors.js';
import { withLogContext } from './core/logger.js';
import { utf8Text } from './core/runs/model.js';
import type { DisabledPlatform, InboundResponse, PlatformAdapter } from './core/chat/adapter.js';
import type { RateLimits } from './core/context.js';

export interface HttpDeps {
  logger: Logger;
  /** Every chat platform and GitHub, each on its own route; disabled ones answer 503. */
  platforms: Array<PlatformAdapter | DisabledPlatform>;
  web: Hono;
  metrics: Metrics;
  ready(): Promise<Readiness>;
  /** Requests failing signature checks are limited per client address. */
  limits?: RateLimits;
  clientIp?(c: Context): string;
}


export function createHttpApp(deps: HttpDeps): Hono {
  const metrics = deps.metrics;
  const app = new Hono();
  // X-Request-Id: the caller's (letters, digits, - _ =; up to 128) or a new one, returned on the response.
  app.use(requestId({ limitLength: 128 }));
  app.use(async function timing(c, next) {
    const started = performance.now();
    // Every log line of this request, and of the jobs it enqueues, carries its request id.
    await withLogContext({ requestId: c.get('requestId'), deliveryId: c.req.header('x-github-delivery') }, next);
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath || 'unmatched';
    metrics.http.requests.labels(route, c.req.method, String(c.res.status)).observe(seconds);
    // With tracing on, the request's span is named by the route that answered (off: no span, no cost).
    trace.getActiveSpan()?.setAttribute('http.route', route).updateName(`${c.req.method} ${route}`);
    // The URL with its query: the logger scrubs credentials in it (sign-in links' tokens).
    deps.logger.debug({ requestId: c.get('requestId'), method: c.req.method, url: c.req.url.replace(/^https?:\/\/[^/]+/, ''), status: c.res.status, ms: Math.round(seconds * 1000) }, 'request');
  });

  app.onError((err, c) => {
    if (err instanceof AppError) {
      return c.json({ error: err.code, message: err.message, requestId: c.get('requestId') }, err.status as 400);
    }
    deps.logger.error({ err, requestId: c.get('requestId') }, 'unhandled error');
    return c.json({ error: 'internal', message: 'Something went wrong on our side.', requestId: c.get('requestId') }, 500);
  });
  app.notFound(notFoundPage);

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const readiness = await deps.ready();
    return c.json(readiness, readiness.ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    c.header('content-type', metrics.registry.contentType);
    return c.body(await metrics.render());
  });

  for (const platform of deps.platforms) {
    const budget = createByteBudget('disabled' in platform ? 0 : (platform.maxBytesInFlight ?? platform.maxBodyBytes * 4));
    // Acknowledgement latency as the platform sees it (from arrival to the answer), every answer counted.
    app.post(platform.route, async function acknowledgement(c, next) {
      const started = performance.now();
      await next();
      metrics.http.ack.labels(platform.platform).observe((performance.now() - started) / 1000);
    });
    app.post(platform.route, async function platformWebhook(c) {
      if ('disabled' in platform) {
        metrics.http.platformRequests.labels(platform.platform, 'disabled').inc();
        return c.json({ error: 'platform_disabled', message: platform.disabled }, 503);
      }
      const headers = c.req.header();
      const ip = deps.clientIp?.(c) ?? 'unknown';
      // An address that keeps failing signature checks is refused unread for a while.
      const blocked = deps.limits ? await deps.limits.peek('badSignatures', ip) : undefined;
      if (blocked && !blocked.ok) {
        metrics.http.platformRequests.labels(platform.platform, '429').inc();
        const seconds = String(Math.max(1, Math.ceil(blocked.resetMs / 1000)));
        return c.json({ error: 'rate_limited', message: `Too many requests with bad signatures from your address; try again in ${seconds} s.` }, 429, { 'retry-after': seconds, connection: 'close' });
      }
      const failedSignature = async (status: number) => {
        if (status === 401 && deps.limits) await deps.limits.consume('badSignatures', ip);
      };
      const early = platform.preflight?.(headers);
      if (early) {
        metrics.http.platformRequests.labels(platform.platform, String(early.status)).inc();
        await failedSignature(early.status);
        return respond(c, early, { connection: 'close' });
      }
      const declared = Number(headers['content-length']);
      if (declared > platform.maxBodyBytes) return tooLarge(c, platform);
      // Unverified bodies are held in memory only up to the route's budget: a flood of large
      // unsigned posts is answered 503 unread instead of growing the heap.
      const reserved = Number.isFinite(declared) && declared >= 0 ? declared : platform.maxBodyBytes;
      if (!budget.take(reserved)) {
        metrics.http.platformRequests.labels(platform.platform, '503').inc();
        return c.json({ error: 'busy', message: 'Too many large requests at once; retry in a second.' }, 503, { 'retry-after': '1', connection: 'close' });
      }
      let rawBody: string | undefined | typeof NOT_UTF8;
      try {
        rawBody = await readRawBody(c, platform.maxBodyBytes);
      } finally {
        budget.release(reserved);
      }
      if (rawBody === undefined) return tooLarge(c, platform);
      if (rawBody === NOT_UTF8) {
        metrics.http.platformRequests.labels(platform.platform, '400').inc();
        return c.json({ error: 'invalid_body', message: 'The body is not valid UTF-8.' }, 400);
      }
      const res = await platform.handle({ rawBody, headers });
      metrics.http.platformRequests.labels(platform.platform, String(res.status)).inc();
      await failedSignature(res.status);
      return respond(c, res);
    });
  }

  function tooLarge(c: Context, platform: PlatformAdapter) {
    metrics.http.platformRequests.labels(platform.platform, '413').inc();
    // The rest of the body is never read, so the connection cannot carry another request.
    return c.json({ error: 'payload_too_large', message: `${platform.platform} requests are at most ${platform.maxBodyBytes} bytes` }, 413, { connection: 'close' });
  }

  app.route('/', deps.web);
  return app;
}

function respond(c: Context, res: InboundResponse, extra: Record<string, string> = {}) {
  const body = typeof res.body === 'string' ? res.body : JSON.stringify(res.body);
  return c.body(body, res.status as 200, { 'content-type': res.contentType ?? 'application/json', ...res.headers, ...extra });
}

/** A count of bytes in flight against a limit. */
function createByteBudget(limit: number) {
  let used = 0;
  return {
    take(n: number): boolean {
      if (used > 0 && used + n > limit) return false;
      used += n;
      return true;
    },
    release(n: number) {
      used -= n;
    },
  };
}

/**
 * The raw body, exactly as signed, or undefined when it is larger than `max`. Read from Node's
 * request when running on @hono/node-server: building a web Request and stream for every
 * webhook costs more than the rest of the acknowledgement path.
 */
export async function readRawBody(c: Context, max: number): Promise<string | undefined | typeof NOT_UTF8> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > max) return undefined;
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.readableEnded) {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    return bytes.byteLength > max ? undefined : (utf8Text(bytes) ?? NOT_UTF8);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  // Decoded strictly: a body that is not UTF-8 is refused as such, never altered (which would
  // also make a genuine signature look forged).
  return utf8Text(Buffer.concat(chunks)) ?? NOT_UTF8;
}

/** readRawBody's answer for a body that is not valid UTF-8. */
export const NOT_UTF8 = Symbol('not UTF-8');
