import { Migration20261121000000_init } from '../../../migrations/Migration20261121000000_init.js';
import { Migration20261121100000_deploys } from '../../../migrations/Migration20261121100000_deploys.js';
import { Migration20261121200000_documentation } from '../../../migrations/Migration20261121200000_documentation.js';
import { Migration20261122000000_run_core } from '../../../migrations/Migration20261122000000_run_core.js';
import { Migration20261122010000_story_quality } from '../../../migrations/Migration20261122010000_story_quality.js';
import { Migration20261122020000_installation } from '../../../migrations/Migration20261122020000_installation.js';
import { Migration20261122100000_access } from '../../../migrations/Migration20261122100000_access.js';
import { Migration20261122200000_audit_chain } from '../../../migrations/Migration20261122200000_audit_chain.js';
import { Migration20261122300000_delivery_flow } from '../../../migrations/Migration20261122300000_delivery_flow.js';
import { Migration20261207200000_deploy_safety } from '../../../migrations/Migration20261207200000_deploy_safety.js';

/**
 * Migrations are listed here rather than discovered by path: vitest cannot import() a .ts
 * migration by file name, and a static list works the same under tsx, vitest and compiled node.
 * Add every new migration to this list, oldest first.
 */
export const migrationsList = [
  { name: 'Migration20261121000000_init', class: Migration20261121000000_init },
  { name: 'Migration20261121100000_deploys', class: Migration20261121100000_deploys },
  { name: 'Migration20261121200000_documentation', class: Migration20261121200000_documentation },
  { name: 'Migration20261122000000_run_core', class: Migration20261122000000_run_core },
  { name: 'Migration20261122010000_story_quality', class: Migration20261122010000_story_quality },
  { name: 'Migration20261122020000_installation', class: Migration20261122020000_installation },
  { name: 'Migration20261122100000_access', class: Migration20261122100000_access },
  { name: 'Migration20261122200000_audit_chain', class: Migration20261122200000_audit_chain },
  { name: 'Migration20261122300000_delivery_flow', class: Migration20261122300000_delivery_flow },
  { name: 'Migration20261207200000_deploy_safety', class: Migration20261207200000_deploy_safety },
];
