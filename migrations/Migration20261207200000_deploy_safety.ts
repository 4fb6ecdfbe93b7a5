import { Migration } from '@mikro-orm/migrations';

/**
 * Deploy safety (issue 27): one deploy at a time per environment and locks on environments.
 *
 * `environment_queue` holds, per repository and environment, the one run that has the
 * environment (from its request until it finishes, approval wait included) and at most one run
 * waiting for it. A run is in at most one place (unique keys); the row is locked `for update`
 * while a run joins, so two web processes or two workers racing see one another's writes.
 *
 * `environment_locks` is one row per locked environment: taking a lock is an insert that only
 * replaces a lock whose time has run out.
 */
export class Migration20261207200000_deploy_safety extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table environment_queue (
      repo text not null,
      environment text not null,
      active_run_id bigint null references workflow_runs(id) on delete set null,
      waiting_run_id bigint null references workflow_runs(id) on delete set null,
      updated_at timestamptz not null default now(),
      primary key (repo, environment),
      check (active_run_id is null or waiting_run_id is null or active_run_id <> waiting_run_id));`);
    this.addSql(`create unique index environment_queue_active_key on environment_queue (active_run_id);`);
    this.addSql(`create unique index environment_queue_waiting_key on environment_queue (waiting_run_id);`);
    this.addSql(`create table environment_locks (
      repo text not null,
      environment text not null,
      holder text not null,
      person text not null,
      reason text null,
      expires_at timestamptz null,
      created_at timestamptz not null default now(),
      primary key (repo, environment));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists environment_locks;`);
    this.addSql(`drop table if exists environment_queue;`);
  }
}
