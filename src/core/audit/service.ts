import type { EntityManager } from '@mikro-orm/postgresql';
import { stringify } from 'csv-stringify/sync';
import { ValidationError } from '../errors.js';
import type { Actor, CoreContext } from '../context.js';
import { authorize } from '../access/authorize.js';
import { chainHead, chainRows, findAuditRows, latestAnchor, pruneAuditPrefix, rowAtSeq, type AuditFilter, type AuditRecord } from './store.js';

export type { AuditEntry, AuditFilter, AuditRecord } from './store.js';
export { audit } from './store.js';

/** The hash a chain with no rows before it starts from. */
export const GENESIS_HASH = '0'.repeat(64);

export interface ChainBreak {
  id: number;
  seq: number;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Rows checked (up to and including a break). */
  rows: number;
  /** Where checking started: after the last pruning anchor, or from the beginning. */
  from: { seq: number; hash: string };
  head: { seq: number; hash: string } | undefined;
  /** The first row that does not verify. */
  broken?: ChainBreak;
}

/**
 * Walks the chain in seq order from its anchor: every row must follow the previous one with
 * no gap, carry the previous row's hash, and hash to what it stores. The first row that does not
 * is named. `expect` (a seq and hash recorded elsewhere, e.g. from `npm run audit -- head`)
 * also checks that the chain still passes through that point, which catches a chain rewritten
 * from start to end by someone who can write to the database.
 */
export async function verifyAuditChain(em: EntityManager, opts: { expect?: { seq: number; hash: string }; pageSize?: number } = {}): Promise<VerifyResult> {
  const anchor = (await latestAnchor(em)) ?? { seq: 0, hash: GENESIS_HASH };
  let prev = anchor;
  let rows = 0;
  const fail = (broken: ChainBreak): VerifyResult => ({ ok: false, rows, from: anchor, head: prev.seq ? prev : undefined, broken });
  for (;;) {
    const page = await chainRows(em, prev.seq, opts.pageSize ?? 1000);
    for (const r of page) {
      rows++;
      if (r.seq !== prev.seq + 1) return fail({ id: r.id, seq: r.seq, reason: `rows ${prev.seq + 1}…${r.seq - 1} of the chain are missing (deleted)` });
      if (r.prevHash !== prev.hash) return fail({ id: r.id, seq: r.seq, reason: `it does not carry the hash of row ${prev.seq}: the row before it was changed or replaced` });
      if (r.computed !== r.hash) return fail({ id: r.id, seq: r.seq, reason: 'its content does not match its hash: the row was changed' });
      prev = { seq: r.seq, hash: r.hash };
    }
    if (page.length === 0) break;
  }
  const result: VerifyResult = { ok: true, rows, from: anchor, head: prev.seq ? prev : undefined };
  if (opts.expect) {
    const at = await rowAtSeq(em, opts.expect.seq);
    if (!at || at.hash !== opts.expect.hash) {
      return { ...result, ok: false, broken: { id: at?.id ?? 0, seq: opts.expect.seq, reason: at ? 'its hash is not the one recorded: the chain was rewritten' : 'the row recorded is no longer in the chain' } };
    }
  }
  return result;
}

export function auditHead(em: EntityManager) {
  return chainHead(em);
}

/** Search: newest first, `limit` at a time; `next` is the cursor for the page after. */
export async function searchAudit(em: EntityManager, filter: AuditFilter): Promise<{ entries: AuditRecord[]; next: number | null }> {
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
  const entries = await findAuditRows(em, { ...filter, order: 'newest', limit });
  return { entries, next: entries.length === limit ? entries[entries.length - 1]!.seq : null };
}

export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const CSV_COLUMNS = ['seq', 'id', 'at', 'actor', 'action', 'target', 'source', 'project', 'data', 'prev_hash', 'hash'];

function csvLine(r: AuditRecord): string {
  // Cells starting with = + - @ are quoted with a leading ' so a spreadsheet never runs them.
  return stringify([[r.seq, r.id, r.at, r.actor, r.action, r.target ?? '', r.source ?? '', r.project ?? '', r.data ? JSON.stringify(r.data) : '', r.prevHash, r.hash]], { escape_formulas: true });
}

/**
 * Every row matching the filter, oldest first, as CSV or a JSON array, read a page at a time
 * so an export of any size holds one page in memory.
 */
export async function* exportAudit(em: EntityManager, filter: Omit<AuditFilter, 'beforeSeq' | 'afterSeq' | 'order' | 'limit'>, format: ExportFormat): AsyncGenerator<string> {
  if (!EXPORT_FORMATS.includes(format)) throw new ValidationError(`format must be one of ${EXPORT_FORMATS.join(', ')}`);
  yield format === 'csv' ? stringify([CSV_COLUMNS]) : '[';
  let after = 0;
  let first = true;
  for (;;) {
    const page = await findAuditRows(em, { ...filter, afterSeq: after, order: 'oldest', limit: 1000 });
    if (page.length === 0) break;
    if (format === 'csv') yield page.map(csvLine).join('');
    else {
      yield page.map((r, i) => `${first && i === 0 ? '' : ','}\n${JSON.stringify(r)}`).join('');
      first = false;
    }
    after = page[page.length - 1]!.seq;
  }
  if (format === 'json') yield '\n]\n';
}

/** Retention (AUDIT_RETENTION_DAYS): 0 keeps everything. The chain keeps verifying from the anchor it leaves. */
export async function pruneAuditLog(em: EntityManager, retentionMs: number): Promise<number> {
  if (retentionMs <= 0) return 0;
  return em.transactional((tx) => pruneAuditPrefix(tx, new Date(Date.now() - retentionMs)));
}

/** The audit log for a person: admins only (it names everyone's actions). */
export async function readAuditLog({ ctx, actor }: { ctx: CoreContext; actor: Actor }, filter: AuditFilter): Promise<{ entries: AuditRecord[]; next: number | null }> {
  await authorize(ctx, actor, 'audit.read');
  return searchAudit(ctx.em, filter);
}

export async function exportAuditLog(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  filter: Omit<AuditFilter, 'beforeSeq' | 'afterSeq' | 'order' | 'limit'>,
  format: ExportFormat,
): Promise<AsyncGenerator<string>> {
  await authorize(ctx, actor, 'audit.export');
  return exportAudit(ctx.em, filter, format);
}

export async function checkAuditChain({ ctx, actor }: { ctx: CoreContext; actor: Actor }): Promise<VerifyResult> {
  await authorize(ctx, actor, 'audit.read');
  return verifyAuditChain(ctx.em);
}
