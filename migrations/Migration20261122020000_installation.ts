import { Migration } from '@mikro-orm/migrations';

/**
 * One row naming this installation, made with the database. Queue job ids carry it, so a Redis
 * key prefix reused with a fresh database never meets an earlier installation's jobs.
 */
export class Migration20261122020000_installation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table installation (
      id text primary key,
      singleton boolean not null default true unique check (singleton),
      created_at timestamptz not null default now());`);
    this.addSql(`insert into installation (id) values (substr(replace(gen_random_uuid()::text, '-', ''), 1, 16));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists installation;`);
  }
}
