import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/cli.js';
import { openDatabase, type Database } from '../../src/core/db/orm.js';
import { createLogger } from '../../src/core/logger.js';
import { transaction } from '../../src/core/db/transaction.js';
import { audit, auditHead, pruneAuditLog, searchAudit, verifyAuditChain } from '../../src/core/audit/service.js';

/**
 * The audit log is a hash chain the database keeps: concurrent writers append in commit order,
 * updates and deletes are refused, and any change made behind the service's back (as the table
 * owner, with the trigger switched off) is found by `npm run audit -- verify`, which names the row.
 */

let info: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;
let owner: pg.Client;
const logger = createLogger('silent');
const ctx = () => ({ em: db.orm.em.fork(), logger });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  info = await createTestDatabase();
  db = await openDatabase({ databaseUrl: info.url, dataDir: '/nonexistent', poolMax: 20 });
  owner = new pg.Client({ connectionString: info.url });
  await owner.connect();
});
afterAll(async () => {
  await owner?.end();
  await db?.close();
  await info?.drop();
});

async function rows() {
  return (await owner.query('select id, seq, actor, action, data, prev_hash, hash from audit_logs order by seq')).rows as Array<Record<string, any>>;
}

/** As the table owner, with the append-only trigger off: what someone with database access could do. */
async function behindTheServicesBack(sql: string, params: unknown[] = []) {
  await owner.query('alter table audit_logs disable trigger audit_logs_append_only');
  try {
    await owner.query(sql, params);
  } finally {
    await owner.query('alter table audit_logs enable trigger audit_logs_append_only');
  }
}

describe('the audit chain', () => {
  it('links every row to the one before, also with concurrent writers and rollbacks', async () => {
    // 40 transactions at once, on 20 connections: each writes its decision's audit row, some
    // take a while before committing, every fifth rolls back.
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        transaction(ctx(), async (tx) => {
          await audit(tx, { actor: `slack:U${i}`, action: 'test.concurrent', target: `t-${i}`, data: { i } });
          await sleep((i * 7) % 30);
          if (i % 5 === 4) throw new Error('rolled back');
          await audit(tx, { actor: `slack:U${i}`, action: 'test.concurrent.second', target: `t-${i}` });
        }),
      ),
    );
    // And writers outside any transaction, at the same time.
    await Promise.all(Array.from({ length: 10 }, (_, i) => audit(ctx(), { actor: 'autodevhub', action: 'test.plain', data: { i } })));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(8);
    const all = await rows();
    expect(all).toHaveLength(32 * 2 + 10);
    expect(all.map((r) => Number(r.seq))).toEqual(all.map((_, i) => i + 1));
    for (let i = 1; i < all.length; i++) expect(all[i]!.prev_hash).toBe(all[i - 1]!.hash);
    // A transaction's rows are written last and together: its second row follows its first.
    for (const first of all.filter((r) => r.action === 'test.concurrent')) {
      expect(all[Number(first.seq)]).toMatchObject({ action: 'test.concurrent.second', actor: first.actor });
    }
    expect((await verifyAuditChain(db.orm.em.fork())).ok).toBe(true);
  });

  it('does not deadlock when one transaction audits before a row lock and another after it', async () => {
    await owner.query(`insert into projects (key) values ('locked') on conflict do nothing`);
    const lockProject = (tx: { em: ReturnType<typeof ctx>['em'] }) => tx.em.execute(`select * from projects where key = 'locked' for update`);
    const a = transaction(ctx(), async (tx) => {
      await audit(tx, { actor: 'a', action: 'test.order' });
      await sleep(50);
      await lockProject(tx);
    });
    const b = transaction(ctx(), async (tx) => {
      await lockProject(tx);
      await sleep(100);
      await audit(tx, { actor: 'b', action: 'test.order' });
    });
    await expect(Promise.all([a, b])).resolves.toBeDefined();
  });

  it('refuses updates, deletes and truncation', async () => {
    await expect(owner.query(`update audit_logs set actor = 'someone else' where seq = 1`)).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(owner.query(`delete from audit_logs where seq = 1`)).rejects.toThrow(/append-only: DELETE refused/);
    await expect(owner.query(`truncate audit_logs`)).rejects.toThrow(/append-only: TRUNCATE refused/);
    // Even the retention switch allows no delete that no anchor covers.
    await expect(owner.query(`begin; set local autodevhub.audit_prune = 'on'; delete from audit_logs where seq = 1; commit;`)).rejects.toThrow(/append-only/);
    await owner.query('rollback');
  });

  it('takes the project from the data or from the run the target names', async () => {
    await audit(ctx(), { actor: 'web:admin', action: 'widget_token.created', target: 'widget:1', data: { project: 'web' } });
    await audit(ctx(), { actor: 'web:admin', action: 'channel.linked', target: 'slack:C1', project: 'api' });
    const found = await searchAudit(db.orm.em.fork(), { project: 'web' });
    expect(found.entries.map((e) => e.action)).toEqual(['widget_token.created']);
    expect((await searchAudit(db.orm.em.fork(), { project: 'api' })).entries.map((e) => e.target)).toEqual(['slack:C1']);
  });
});

describe('verify finds what was changed behind the service’s back', () => {
  it('passes on an untouched chain (npm run audit -- verify)', async () => {
    const res = await runCli('audit', ['verify'], { DATABASE_URL: info.url });
    expect(res.stdout).toMatch(/audit chain verified: \d+ row\(s\) from the first row/);
    expect(res.code).toBe(0);
  });

  it('names the edited row when its content changed', async () => {
    const target = (await rows())[5]!;
    await behindTheServicesBack(`update audit_logs set data = '{"i": 999}' where seq = $1`, [target.seq]);
    const res = await runCli('audit', ['verify'], { DATABASE_URL: info.url });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`BROKEN at row ${target.seq} (id ${target.id}): its content does not match its hash`);
    await behindTheServicesBack(`update audit_logs set data = $1 where seq = $2`, [target.data, target.seq]);
    expect((await verifyAuditChain(db.orm.em.fork())).ok).toBe(true);
  });

  it('names the row after one whose hash was recomputed to match', async () => {
    const all = await rows();
    const victim = all[10]!;
    await behindTheServicesBack(
      `update audit_logs set actor = 'slack:UINNOCENT', hash = audit_hash(prev_hash, seq, at, 'slack:UINNOCENT', action, target, source, project_key, data) where seq = $1`,
      [victim.seq],
    );
    const result = await verifyAuditChain(db.orm.em.fork());
    expect(result.broken).toMatchObject({ seq: Number(victim.seq) + 1, reason: expect.stringMatching(/does not carry the hash of row/) });
    await behindTheServicesBack(`update audit_logs set actor = $1, hash = $2 where seq = $3`, [victim.actor, victim.hash, victim.seq]);
    expect((await verifyAuditChain(db.orm.em.fork())).ok).toBe(true);
  });

  it('names the gap when a row was deleted', async () => {
    const victim = (await rows())[20]!;
    await behindTheServicesBack(`delete from audit_logs where seq = $1`, [victim.seq]);
    const result = await verifyAuditChain(db.orm.em.fork());
    expect(result).toMatchObject({ ok: false, broken: { seq: Number(victim.seq) + 1, reason: `rows ${victim.seq}…${victim.seq} of the chain are missing (deleted)` } });
  });
});

describe('a chain rewritten from end to end, and retention', () => {
  let recorded: { seq: number; hash: string };

  beforeAll(async () => {
    // A fresh database: the previous block left a gap on purpose.
    await owner.query('alter table audit_logs disable trigger audit_logs_append_only');
    await owner.query('alter table audit_logs disable trigger audit_logs_no_truncate');
    await owner.query('truncate audit_logs');
    await owner.query('alter table audit_logs enable trigger audit_logs_append_only');
    await owner.query('alter table audit_logs enable trigger audit_logs_no_truncate');
    for (let i = 0; i < 6; i++) await audit(ctx(), { actor: 'autodevhub', action: 'test.rewrite', data: { i } });
    const head = (await auditHead(db.orm.em.fork()))!;
    recorded = { seq: head.seq, hash: head.hash };
  });

  it('is caught by verify against a head recorded elsewhere', async () => {
    expect((await verifyAuditChain(db.orm.em.fork(), { expect: recorded })).ok).toBe(true);
    // Someone recomputes every hash after changing row 2: the chain is consistent again…
    await owner.query('alter table audit_logs disable trigger audit_logs_append_only');
    await owner.query(`update audit_logs set actor = 'slack:UFORGED' where seq = 2`);
    await owner.query(`do $$ declare r record; prev text := repeat('0', 64); begin
      for r in select * from audit_logs order by seq loop
        update audit_logs set prev_hash = prev, hash = audit_hash(prev, r.seq, r.at, r.actor, r.action, r.target, r.source, r.project_key, r.data) where seq = r.seq returning hash into prev;
      end loop; end $$;`);
    await owner.query('alter table audit_logs enable trigger audit_logs_append_only');
    expect((await verifyAuditChain(db.orm.em.fork())).ok).toBe(true);
    // …but not the one recorded.
    const res = await runCli('audit', ['verify', '--expect', `${recorded.seq}:${recorded.hash}`], { DATABASE_URL: info.url });
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`BROKEN at row ${recorded.seq}`);
    expect(res.stdout).toContain('the chain was rewritten');
  });

  it('prunes a prefix past AUDIT_RETENTION_DAYS and still verifies from the anchor', async () => {
    await owner.query('alter table audit_logs disable trigger audit_logs_append_only');
    await owner.query(`update audit_logs set at = at - interval '40 days' where seq <= 4`);
    await owner.query(`do $$ declare r record; prev text := repeat('0', 64); begin
      for r in select * from audit_logs order by seq loop
        update audit_logs set prev_hash = prev, hash = audit_hash(prev, r.seq, r.at, r.actor, r.action, r.target, r.source, r.project_key, r.data) where seq = r.seq returning hash into prev;
      end loop; end $$;`);
    await owner.query('alter table audit_logs enable trigger audit_logs_append_only');
    expect(await pruneAuditLog(db.orm.em.fork(), 0)).toBe(0);
    expect(await pruneAuditLog(db.orm.em.fork(), 30 * 86_400_000)).toBe(4);
    expect((await rows()).map((r) => Number(r.seq))).toEqual([5, 6]);
    await audit(ctx(), { actor: 'autodevhub', action: 'test.after_prune' });
    const result = await verifyAuditChain(db.orm.em.fork());
    expect(result).toMatchObject({ ok: true, rows: 3, from: { seq: 4 }, head: { seq: 7 } });
    // The anchor cannot be changed to hide the cut.
    await expect(owner.query(`update audit_anchors set hash = repeat('1', 64)`)).rejects.toThrow(/append-only/);
    // Pruned rows cannot be put back in front of the anchor unnoticed, nor later ones removed.
    await expect(owner.query(`delete from audit_logs where seq = 5`)).rejects.toThrow(/append-only/);
  });
});
