import { Migration } from '@mikro-orm/migrations';

export class Migration20261121000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create sequence if not exists run_number_seq start with 1001;`);
    this.addSql(`create table projects (
      id serial primary key,
      key text not null unique,
      repo text null,
      created_at timestamptz not null default now());`);
    this.addSql(`create table users (
      id serial primary key,
      display_name text null,
      created_at timestamptz not null default now());`);
    this.addSql(`create table identities (
      id serial primary key,
      user_id int not null references users(id) on delete cascade,
      handle text not null unique,
      display_name text null,
      created_at timestamptz not null default now());`);
    this.addSql(`create table channel_links (
      id serial primary key,
      project_key text not null,
      channel text not null unique,
      created_by text null,
      created_at timestamptz not null default now());`);
    this.addSql(`create table workflow_runs (
      id bigserial primary key,
      number int not null unique default nextval('run_number_seq'),
      kind text not null check (kind in ('story', 'docs', 'deploy')),
      status text not null check (status in ('queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled')),
      stage text null,
      progress int not null default 0,
      project_key text null,
      requested_by text not null,
      source_platform text not null,
      channel text null,
      thread_ref text null,
      input jsonb not null,
      result jsonb null,
      error text null,
      last_seq int not null default 0,
      chat_seq int not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      finished_at timestamptz null);`);
    this.addSql(`create index workflow_runs_project_created_idx on workflow_runs (project_key, created_at desc);`);
    this.addSql(`create index workflow_runs_channel_created_idx on workflow_runs (channel, created_at desc);`);
    this.addSql(`create index workflow_runs_status_idx on workflow_runs (status) where status in ('queued', 'running');`);
    this.addSql(`create table run_events (
      id bigserial primary key,
      run_id bigint not null references workflow_runs(id) on delete cascade,
      seq int not null,
      stage text null,
      status text not null,
      progress int not null,
      message text not null,
      data jsonb null,
      at timestamptz not null default now(),
      unique (run_id, seq));`);
    this.addSql(`create table user_stories (
      id bigserial primary key,
      run_id bigint not null references workflow_runs(id) on delete cascade,
      feature_description text not null,
      normalized_key text not null,
      gherkin text not null,
      confidence_score double precision not null,
      status text not null default 'draft' check (status in ('draft', 'accepted', 'superseded')),
      provider text not null,
      model text not null,
      input_tokens int null,
      output_tokens int null,
      latency_ms int not null,
      cached boolean not null default false,
      version int not null default 1,
      parent_id bigint null references user_stories(id) on delete set null,
      accepted_by text null,
      accepted_at timestamptz null,
      metadata jsonb null,
      created_at timestamptz not null default now());`);
    this.addSql(`create unique index user_stories_run_idx on user_stories (run_id);`);
    this.addSql(`create table audit_logs (
      id bigserial primary key,
      actor text not null,
      action text not null,
      target text null,
      source text null,
      data jsonb null,
      at timestamptz not null default now());`);
    this.addSql(`create index audit_logs_at_idx on audit_logs (at desc);`);
    this.addSql(`create table api_tokens (
      id bigserial primary key,
      kind text not null,
      name text null,
      token_hash text not null unique,
      subject text not null,
      project_key text null,
      expires_at timestamptz null,
      used_at timestamptz null,
      revoked_at timestamptz null,
      created_at timestamptz not null default now());`);
    this.addSql(`create table processed_deliveries (
      id bigserial primary key,
      platform text not null,
      delivery_id text not null,
      run_id bigint null references workflow_runs(id) on delete cascade,
      created_at timestamptz not null default now(),
      unique (platform, delivery_id));`);
  }

  override async down(): Promise<void> {
    for (const t of [
      'processed_deliveries',
      'api_tokens',
      'audit_logs',
      'user_stories',
      'run_events',
      'workflow_runs',
      'channel_links',
      'identities',
      'users',
      'projects',
    ]) {
      this.addSql(`drop table if exists ${t} cascade;`);
    }
    this.addSql(`drop sequence if exists run_number_seq;`);
  }
}
