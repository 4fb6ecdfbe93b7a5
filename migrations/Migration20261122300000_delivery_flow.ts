import { Migration } from '@mikro-orm/migrations';

/**
 * The delivery flow: stories exported to issue trackers and pull requests (one per story version
 * and kind), outgoing webhook deliveries (one per subscription and run event, redeliveries as
 * rows of their own), notifications sent once (email), how far a run's notifications have gone,
 * and the index that answers "what is deployed in this environment".
 */
export class Migration20261122300000_delivery_flow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table story_exports (
      id bigserial primary key,
      story_id bigint not null references user_stories(id) on delete cascade,
      kind text not null check (kind in ('issue', 'pull_request')),
      target text not null,
      state text not null default 'pending' check (state in ('pending', 'done', 'failed')),
      external_id text null,
      url text null,
      error text null,
      requested_by text not null,
      claimed_at timestamptz not null default now(),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (story_id, kind));`);
    this.addSql(`create table webhook_deliveries (
      id bigserial primary key,
      project_key text not null,
      url text not null,
      run_id bigint not null references workflow_runs(id) on delete cascade,
      seq int not null,
      event text not null,
      payload jsonb not null,
      state text not null default 'pending' check (state in ('pending', 'delivered', 'failed', 'refused')),
      attempts int not null default 0,
      response_status int null,
      response_body text null,
      error text null,
      redelivery_of bigint null references webhook_deliveries(id) on delete set null,
      requested_by text null,
      delivered_at timestamptz null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now());`);
    // One delivery per subscription and event; redeliveries are rows of their own.
    this.addSql(`create unique index webhook_deliveries_event_key on webhook_deliveries (project_key, url, run_id, seq) where redelivery_of is null;`);
    this.addSql(`create index webhook_deliveries_project_idx on webhook_deliveries (project_key, id desc);`);
    this.addSql(`create table notifications (
      id bigserial primary key,
      run_id bigint not null references workflow_runs(id) on delete cascade,
      channel text not null,
      recipient text not null,
      kind text not null,
      state text not null default 'sending',
      error text null,
      created_at timestamptz not null default now(),
      unique (run_id, channel, recipient, kind));`);
    this.addSql(`alter table workflow_runs add column notified_seq int not null default 0;`);
    // Runs that exist already have nothing left to notify: webhooks added later start from now.
    this.addSql(`update workflow_runs set notified_seq = last_seq;`);
    this.addSql(`create index deployments_environment_idx on deployments (repo, environment, id desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists deployments_environment_idx;`);
    this.addSql(`alter table workflow_runs drop column if exists notified_seq;`);
    this.addSql(`drop table if exists notifications;`);
    this.addSql(`drop table if exists webhook_deliveries;`);
    this.addSql(`drop table if exists story_exports;`);
  }
}
