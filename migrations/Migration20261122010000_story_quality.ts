import { Migration } from '@mikro-orm/migrations';

/**
 * Stories: a run can end asking for a better description (`needs_input`), and a story keeps its
 * open questions and what it cost (prompt-cache tokens and list-price dollars).
 */
export class Migration20261122010000_story_quality extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table workflow_runs drop constraint if exists workflow_runs_status_check;`);
    this.addSql(`alter table workflow_runs add constraint workflow_runs_status_check
      check (status in ('queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled', 'needs_input'));`);
    this.addSql(`alter table user_stories
      add column open_questions jsonb not null default '[]'::jsonb,
      add column cache_read_tokens int null,
      add column cache_write_tokens int null,
      add column cost_usd numeric(12, 6) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table user_stories drop column open_questions, drop column cache_read_tokens, drop column cache_write_tokens, drop column cost_usd;`);
    this.addSql(`update workflow_runs set status = 'failed' where status = 'needs_input';`);
    this.addSql(`alter table workflow_runs drop constraint if exists workflow_runs_status_check;`);
    this.addSql(`alter table workflow_runs add constraint workflow_runs_status_check
      check (status in ('queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'));`);
  }
}
