import { createRequire } from 'node:module';
import type { Telemetry } from 'bullmq';

/**
 * Traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans for incoming HTTP requests (node:http),
 * outgoing calls made with fetch/undici (GitHub, Claude, Discord) and with node:http (Slack's
 * and Teams' SDKs), and BullMQ jobs (bullmq-otel: the job carries the trace from the request
 * that enqueued it to the worker that runs it). Spans go to `<endpoint>/v1/traces` as OTLP/HTTP
 * JSON in batches. This module is imported only when tracing is on: without the variable none
 * of the OpenTelemetry SDK is loaded. Versions are the Node 20 line (SDK 2.x, 0.2xx).
 */

export interface Tracing {
  /** For BullMQ's `telemetry` option on queues and workers. */
  telemetry: Telemetry;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

export async function startTracing(opts: { endpoint: string; serviceName: string }): Promise<Tracing> {
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }, { registerInstrumentations }, { HttpInstrumentation }, { UndiciInstrumentation }, { BullMQOtel }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/instrumentation'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-undici'),
      import('bullmq-otel'),
    ]);
  const exporter = new OTLPTraceExporter({ url: `${opts.endpoint}/v1/traces` });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 2000 })],
  });
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // The exporter's own requests are not traced.
      new HttpInstrumentation({ ignoreOutgoingRequestHook: (req) => String(req.path ?? '').startsWith('/v1/traces') }),
      new UndiciInstrumentation(),
    ],
  });
  // The HTTP instrumentation patches node:http when it is required; ESM imports of it do not
  // go through require, so it is required here once (the server and clients share the module).
  const require = createRequire(import.meta.url);
  require('http');
  require('https');
  return {
    telemetry: new BullMQOtel({ tracerName: opts.serviceName }) as unknown as Telemetry,
    async shutdown() {
      await provider.forceFlush().catch(() => undefined);
      unregister();
      await provider.shutdown();
    },
  };
}
