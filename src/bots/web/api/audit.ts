import { createRoute, z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { checkAuditChain, EXPORT_FORMATS, exportAuditLog, readAuditLog } from '../../../core/audit/service.js';
import { caller, type Api } from './app.js';
import { errors, json, ProjectKey } from './schemas.js';

const tags = ['audit'];
const isoDate = z.coerce.date({ error: 'must be a date (ISO 8601, e.g. 2026-11-01T12:00:00Z)' });
const Filter = z.object({
  actor: z.string().min(1).max(200).optional(),
  action: z.string().regex(/^[A-Za-z0-9_.]{1,100}\*?$/, 'must be an action like deploy.approved, or a family like deploy.*').optional(),
  project: ProjectKey.optional(),
  target: z.string().min(1).max(200).optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
});

const AuditEntry = z
  .looseObject({ seq: z.number().int(), actor: z.string(), action: z.string(), target: z.string().nullable(), at: z.string(), hash: z.string() })
  .openapi('AuditEntry');

const search = createRoute({
  method: 'get',
  path: '/api/v1/audit',
  tags,
  summary: 'Search the audit log, newest first (`before` is the next page)',
  request: { query: Filter.extend({ before: z.coerce.number().int().min(1).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }) },
  responses: { 200: json(z.object({ entries: z.array(AuditEntry), next: z.number().int().nullable() }), 'Entries'), ...errors(400, 401, 403, 429) },
});

const exportRoute = createRoute({
  method: 'get',
  path: '/api/v1/audit/export',
  tags,
  summary: 'Export the audit log as CSV or JSON',
  request: { query: Filter.extend({ format: z.enum(EXPORT_FORMATS).default('csv') }) },
  responses: {
    200: { description: 'The entries, oldest first', content: { 'text/csv': { schema: z.string() }, 'application/json': { schema: z.array(AuditEntry) } } },
    ...errors(400, 401, 403, 429, 503),
  },
});

const verify = createRoute({
  method: 'get',
  path: '/api/v1/audit/verify',
  tags,
  summary: 'Check the hash chain; names the first broken row',
  responses: {
    200: json(
      z
        .object({
          ok: z.boolean(),
          rows: z.number().int(),
          from: z.object({ seq: z.number().int(), hash: z.string() }),
          head: z.object({ seq: z.number().int(), hash: z.string() }).optional(),
          broken: z.object({ id: z.number().int(), seq: z.number().int(), reason: z.string() }).optional(),
        })
        .openapi('AuditVerification'),
      'The result',
    ),
    ...errors(401, 403, 429),
  },
});

/** The audit log (admins): search, export and verify; the verbs authorise in core. */
export function registerAudit(api: Api): void {
  api.openapi(search, async (c) => {
    const { before, ...q } = c.req.valid('query');
    return c.json(await readAuditLog(caller(c), { ...q, beforeSeq: before }), 200);
  });
  api.openapi(exportRoute, async (c) => {
    const { format, ...filter } = c.req.valid('query');
    const chunks = await exportAuditLog(caller(c), filter, format);
    // The header and the first page are read before answering: a database that is down is a 503, not a cut file.
    const head = [(await chunks.next()).value ?? '', (await chunks.next()).value ?? ''];
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    c.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
    c.header('content-disposition', `attachment; filename="autodevhub-audit-${stamp}.${format}"`);
    c.header('cache-control', 'no-store');
    return stream(c, async (out) => {
      for (const chunk of head) await out.write(chunk);
      for await (const chunk of chunks) await out.write(chunk);
    }) as never;
  });
  api.openapi(verify, async (c) => c.json(await checkAuditChain(caller(c)), 200));
}
