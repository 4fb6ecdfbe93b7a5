import { startFakeServer, sendJson } from './http.js';

export interface ReceivedSpan {
  service: string;
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  attributes: Record<string, unknown>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
const valueOf = (v: AnyValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue;
const attributes = (list: Array<{ key: string; value: AnyValue }> = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/**
 * An OpenTelemetry collector's OTLP/HTTP receiver: POST /v1/traces with the JSON encoding of an
 * ExportTraceServiceRequest (resourceSpans → scopeSpans → spans), answered with an empty
 * ExportTraceServiceResponse. Protobuf bodies are refused with 415, as a JSON-only receiver would.
 */
export async function startFakeOtlp() {
  const spans: ReceivedSpan[] = [];
  const fake = await startFakeServer((req, res) => {
    if (req.method !== 'POST' || req.path !== '/v1/traces') return sendJson(res, 404, { code: 5, message: 'not found' });
    if (!String(req.headers['content-type']).startsWith('application/json')) return sendJson(res, 415, { code: 3, message: 'JSON only' });
    const body = JSON.parse(req.body) as {
      resourceSpans: Array<{
        resource?: { attributes?: Array<{ key: string; value: AnyValue }> };
        scopeSpans: Array<{ scope?: { name: string }; spans: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: Array<{ key: string; value: AnyValue }> }> }>;
      }>;
    };
    for (const rs of body.resourceSpans) {
      const service = String(attributes(rs.resource?.attributes)['service.name']);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          spans.push({ service, scope: ss.scope?.name ?? '', name: s.name, kind: s.kind, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, attributes: attributes(s.attributes) });
        }
      }
    }
    return sendJson(res, 200, {});
  });
  return { ...fake, spans };
}
