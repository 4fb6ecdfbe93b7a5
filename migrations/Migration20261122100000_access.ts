import { Migration } from '@mikro-orm/migrations';

/**
 * Teams: roles granted at run time (on top of autodevhub.yaml), server-side console sessions
 * (revocable at once), and API tokens with scopes and a record of their last use.
 */
export class Migration20261122100000_access extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table api_tokens add column scopes jsonb null, add column last_used_at timestamptz null;`);
    this.addSql(`create index api_tokens_subject_idx on api_tokens (kind, subject);`);
    // project_key '*' is a grant on every project (the admin role).
    this.addSql(`create table role_grants (
      id serial primary key,
      principal text not null,
      project_key text not null,
      role text not null check (role in ('admin', 'maintainer', 'developer', 'viewer')),
      created_by text not null,
      created_at timestamptz not null default now(),
      unique (principal, project_key));`);
    this.addSql(`create table sessions (
      id bigserial primary key,
      token_hash text not null unique,
      subject text not null,
      groups jsonb not null default '[]'::jsonb,
      display_name text null,
      ip text null,
      user_agent text null,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz null);`);
    this.addSql(`create index sessions_subject_idx on sessions (subject) where revoked_at is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists sessions;`);
    this.addSql(`drop table if exists role_grants;`);
    this.addSql(`drop index if exists api_tokens_subject_idx;`);
    this.addSql(`alter table api_tokens drop column if exists scopes, drop column if exists last_used_at;`);
  }
}
