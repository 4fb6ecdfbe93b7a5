import { Migration } from '@mikro-orm/migrations';

/**
 * The audit log becomes a hash chain the database keeps.
 *
 * - Each row gets `seq` (1, 2, 3 … with no gaps), `prev_hash` (the previous row's hash) and
 *   `hash` = SHA-256 of prev_hash followed by the row's canonical text
 *   (`audit_canonical(…)`: a jsonb array of seq, time in UTC, actor, action, target, source,
 *   project and data, as Postgres prints it). A BEFORE INSERT trigger fills them under a
 *   transaction-level advisory lock, so concurrent writers append one at a time in commit order.
 * - `project_key` is filled by the same trigger when the writer did not give one: from
 *   `data.project`, or from the run named by the target (`R-1042`) or by `data.run`.
 * - UPDATE, DELETE and TRUNCATE are refused by triggers. The one exception is retention
 *   (`AUDIT_RETENTION_DAYS`): a prefix of the chain may be deleted in a transaction that first
 *   records, in `audit_anchors`, the seq and hash of the last row it removes, so the rest of
 *   the chain still verifies from that anchor.
 * - Rows written before this migration are chained here, in id order.
 */
export class Migration20261122200000_audit_chain extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table audit_logs
      add column seq bigint null,
      add column prev_hash text null,
      add column hash text null,
      add column project_key text null;`);
    this.addSql(`create table audit_anchors (
      through_seq bigint primary key,
      hash text not null,
      at timestamptz not null,
      pruned_at timestamptz not null default now());`);
    this.addSql(`create or replace function audit_canonical(p_seq bigint, p_at timestamptz, p_actor text, p_action text,
        p_target text, p_source text, p_project text, p_data jsonb) returns text
      language sql stable as $$
        select jsonb_build_array(p_seq, to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          p_actor, p_action, p_target, p_source, p_project, p_data)::text
      $$;`);
    this.addSql(`create or replace function audit_hash(p_prev text, p_seq bigint, p_at timestamptz, p_actor text, p_action text,
        p_target text, p_source text, p_project text, p_data jsonb) returns text
      language sql stable as $$
        select encode(sha256(convert_to(p_prev || audit_canonical(p_seq, p_at, p_actor, p_action, p_target, p_source, p_project, p_data), 'UTF8')), 'hex')
      $$;`);
    // Existing rows: projects from their runs, then the chain in id order.
    this.addSql(`update audit_logs a set project_key = coalesce(a.data->>'project',
        (select w.project_key from workflow_runs w
         where w.number = substr(coalesce(substring(a.target from '^R-[0-9]{1,9}$'), substring(a.data->>'run' from '^R-[0-9]{1,9}$')), 3)::int));`);
    this.addSql(`do $$
      declare r record; prev text := repeat('0', 64); n bigint := 0;
      begin
        for r in select * from audit_logs order by id loop
          n := n + 1;
          update audit_logs set seq = n, prev_hash = prev,
            hash = audit_hash(prev, n, r.at, r.actor, r.action, r.target, r.source, r.project_key, r.data)
          where id = r.id returning hash into prev;
        end loop;
      end $$;`);
    this.addSql(`alter table audit_logs alter column seq set not null, alter column prev_hash set not null, alter column hash set not null;`);
    this.addSql(`create unique index audit_logs_seq_idx on audit_logs (seq);`);
    this.addSql(`create index audit_logs_actor_idx on audit_logs (actor, seq);`);
    this.addSql(`create index audit_logs_project_idx on audit_logs (project_key, seq);`);
    this.addSql(`create or replace function audit_logs_chain() returns trigger language plpgsql as $$
      declare head_seq bigint; head_hash text;
      begin
        -- One appender at a time, until its transaction ends: the head read here is the last committed row.
        perform pg_advisory_xact_lock(7411700211);
        select seq, hash into head_seq, head_hash from audit_logs order by seq desc limit 1;
        if not found then
          select through_seq, hash into head_seq, head_hash from audit_anchors order by through_seq desc limit 1;
        end if;
        new.seq := coalesce(head_seq, 0) + 1;
        new.prev_hash := coalesce(head_hash, repeat('0', 64));
        new.at := clock_timestamp();
        new.project_key := coalesce(new.project_key, new.data->>'project',
          (select w.project_key from workflow_runs w
           where w.number = substr(coalesce(substring(new.target from '^R-[0-9]{1,9}$'), substring(new.data->>'run' from '^R-[0-9]{1,9}$')), 3)::int));
        new.hash := audit_hash(new.prev_hash, new.seq, new.at, new.actor, new.action, new.target, new.source, new.project_key, new.data);
        return new;
      end $$;`);
    this.addSql(`create trigger audit_logs_chain before insert on audit_logs for each row execute function audit_logs_chain();`);
    this.addSql(`create or replace function audit_logs_refuse() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' and tg_table_name = 'audit_logs' and current_setting('autodevhub.audit_prune', true) = 'on' then
          if old.seq <= coalesce((select max(through_seq) from audit_anchors), 0) then
            return old;
          end if;
        end if;
        raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = '42501';
      end $$;`);
    this.addSql(`create trigger audit_logs_append_only before update or delete on audit_logs for each row execute function audit_logs_refuse();`);
    this.addSql(`create trigger audit_logs_no_truncate before truncate on audit_logs for each statement execute function audit_logs_refuse();`);
    this.addSql(`create trigger audit_anchors_append_only before update or delete on audit_anchors for each row execute function audit_logs_refuse();`);
    this.addSql(`create trigger audit_anchors_no_truncate before truncate on audit_anchors for each statement execute function audit_logs_refuse();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists audit_logs_chain on audit_logs;`);
    this.addSql(`drop trigger if exists audit_logs_append_only on audit_logs;`);
    this.addSql(`drop trigger if exists audit_logs_no_truncate on audit_logs;`);
    this.addSql(`drop table if exists audit_anchors;`);
    this.addSql(`drop function if exists audit_logs_chain();`);
    this.addSql(`drop function if exists audit_logs_refuse();`);
    this.addSql(`drop index if exists audit_logs_seq_idx;`);
    this.addSql(`drop index if exists audit_logs_actor_idx;`);
    this.addSql(`drop index if exists audit_logs_project_idx;`);
    this.addSql(`alter table audit_logs drop column seq, drop column prev_hash, drop column hash, drop column project_key;`);
    this.addSql(`drop function if exists audit_hash(text, bigint, timestamptz, text, text, text, text, text, jsonb);`);
    this.addSql(`drop function if exists audit_canonical(bigint, timestamptz, text, text, text, text, text, jsonb);`);
  }
}
