import { Migration } from '@mikro-orm/migrations';

export class Migration20261121200000_documentation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table documentation (
      id bigserial primary key,
      run_id bigint not null unique references workflow_runs(id) on delete cascade,
      project_key text not null,
      doc_type text not null,
      title text not null,
      content text not null,
      file_path text not null,
      version_info jsonb not null,
      created_at timestamptz not null default now());`);
    this.addSql(`create index documentation_project_idx on documentation (project_key, created_at desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists documentation;`);
  }
}
