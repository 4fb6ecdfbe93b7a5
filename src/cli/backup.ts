import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { backupEmbedded, backupPostgres } from '../backup.js';

/**
 * `npm run backup [-- --out FILE] [--force]`: the database to one file. Postgres (DATABASE_URL)
 * with pg_dump, while AutoDevHub runs; the embedded database with AutoDevHub stopped.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, force: { type: 'boolean', default: false } } });
  const config = loadConfig(process.env);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const kind = config.databaseUrl ? 'postgres' : 'embedded';
  const file = resolve(values.out ?? `autodevhub-${kind}-${stamp}.${kind === 'postgres' ? 'pgdump' : 'tar.gz'}`);
  if (config.databaseUrl) await backupPostgres(config.databaseUrl, file);
  else await backupEmbedded(config.dataDir, file, values.force);
  process.stdout.write(`backup of the ${kind} database written to ${file} (${statSync(file).size} bytes)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`backup failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
