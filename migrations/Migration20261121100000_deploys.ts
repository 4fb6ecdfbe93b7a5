import { Migration } from '@mikro-orm/migrations';

export class Migration20261121100000_deploys extends Migration {
  override async up(): Promise<void> {
    // One decision per run and person: a person is their linked user when they have one, so a
    // requester cannot approve their own deploy from another platform.
    this.addSql(`create table approvals (
      id bigserial primary key,
      run_id bigint not null references workflow_runs(id) on delete cascade,
      approver text not null,
      person text not null,
      decision text not null check (decision in ('approve', 'reject')),
      reason text null,
      source text null,
      created_at timestamptz not null default now(),
      unique (run_id, person));`);
    this.addSql(`create table deployments (
      id bigserial primary key,
      run_id bigint not null unique references workflow_runs(id) on delete cascade,
      repo text not null,
      environment text not null,
      sha text not null,
      github_deployment_id bigint not null,
      state text not null default 'created',
      environment_url text null,
      log_url text null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now());`);
    this.addSql(`alter table workflow_runs add column chat_refs jsonb not null default '{}'::jsonb;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table workflow_runs drop column if exists chat_refs;`);
    this.addSql(`drop table if exists deployments;`);
    this.addSql(`drop table if exists approvals;`);
  }
}
