import type { EntityManager } from '@mikro-orm/postgresql';
import { countRows } from './store.js';

/** The tables whose rows an operator checks after a restore. */
export const INVENTORY_TABLES = ['workflow_runs', 'run_events', 'user_stories', 'approvals', 'deployments', 'documentation', 'audit_logs', 'api_tokens', 'projects'] as const;

export function inventory(em: EntityManager): Promise<Record<string, number>> {
  return countRows(em, INVENTORY_TABLES);
}
