import { Migration20261121000000_init } from '../../../migrations/Migration20261121000000_init.js';
import { Migration20261121100000_deploys } from '../../../migrations/Migration20261121100000_deploys.js';
import { Migration20261121200000_documentation } from '../../../migrations/Migration20261121200000_documentation.js';

/**
 * Migrations are listed here rather than discovered by path: vitest cannot import() a .ts
 * migration by file name, and a static list works the same under tsx, vitest and compiled node.
 * Add every new migration to this list, oldest first.
 */
export const migrationsList = [
  { name: 'Migration20261121000000_init', class: Migration20261121000000_init },
  { name: 'Migration20261121100000_deploys', class: Migration20261121100000_deploys },
  { name: 'Migration20261121200000_documentation', class: Migration20261121200000_documentation },
];
