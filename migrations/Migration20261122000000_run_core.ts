import { Migration } from '@mikro-orm/migrations';

/** The run module: idempotency hashes, indexes for the sweeps and for retention. */
export class Migration20261122000000_run_core extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table processed_deliveries add column request_hash text null;`);
    this.addSql(`create index processed_deliveries_created_idx on processed_deliveries (created_at);`);
    // The recovery sweep reads unfinished runs; the chat sweep, runs whose chat view is behind.
    this.addSql(`drop index if exists workflow_runs_status_idx;`);
    this.addSql(`create index workflow_runs_open_idx on workflow_runs (status) where status in ('queued', 'running', 'waiting_approval');`);
    this.addSql(`create index workflow_runs_chat_behind_idx on workflow_runs (updated_at) where chat_seq < last_seq;`);
    this.addSql(`create index workflow_runs_finished_idx on workflow_runs (finished_at) where finished_at is not null;`);
    this.addSql(`create index audit_logs_target_idx on audit_logs (target);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists audit_logs_target_idx;`);
    this.addSql(`drop index if exists workflow_runs_finished_idx;`);
    this.addSql(`drop index if exists workflow_runs_chat_behind_idx;`);
    this.addSql(`drop index if exists workflow_runs_open_idx;`);
    this.addSql(`create index workflow_runs_status_idx on workflow_runs (status) where status in ('queued', 'running');`);
    this.addSql(`drop index if exists processed_deliveries_created_idx;`);
    this.addSql(`alter table processed_deliveries drop column if exists request_hash;`);
  }
}
