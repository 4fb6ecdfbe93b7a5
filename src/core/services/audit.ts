import type { EntityManager } from '@mikro-orm/postgresql';

export interface AuditEntry {
  actor: string;
  action: string;
  target?: string | null;
  source?: string | null;
  data?: Record<string, unknown>;
}

export async function audit(ctx: { em: EntityManager }, entry: AuditEntry): Promise<void> {
  await ctx.em
    .getConnection()
    .execute(`insert into audit_logs (actor, action, target, source, data) values (?, ?, ?, ?, ?::jsonb)`, [
      entry.actor,
      entry.action,
      entry.target ?? null,
      entry.source ?? null,
      entry.data ? JSON.stringify(entry.data) : null,
    ]);
}
