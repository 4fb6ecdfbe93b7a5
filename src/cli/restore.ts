import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { loadConfig } from '../core/config.js';
import { openDatabase } from '../core/db/orm.js';
import { inventory } from '../core/db/inventory.js';
import { verifyAuditChain } from '../core/audit/service.js';
import { backupKindOf, restoreEmbedded, restorePostgres } from '../backup.js';

const USAGE = 'usage: npm run restore -- <backup file> [--force]';

/**
 * `npm run restore -- FILE`: the database from a backup, into DATABASE_URL (Postgres) or
 * DATA_DIR (embedded), with AutoDevHub stopped. Then migrations newer than the backup are
 * applied, and what came back is counted and the audit chain verified.
 */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { force: { type: 'boolean', default: false } } });
  const file = positionals[0];
  if (!file || !existsSync(file)) {
    process.stderr.write(`${file ? `no such file: ${file}\n` : ''}${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(process.env);
  const kind = backupKindOf(file);
  const target = config.databaseUrl ? 'postgres' : 'embedded';
  if (kind !== target) {
    throw new Error(`${file} is a backup of ${kind === 'postgres' ? 'a Postgres' : 'the embedded'} database, but this configuration uses ${target === 'postgres' ? 'Postgres (DATABASE_URL)' : 'the embedded database (DATABASE_URL is not set)'}`);
  }
  if (config.databaseUrl) await restorePostgres(config.databaseUrl, file);
  else {
    const kept = await restoreEmbedded(config.dataDir, file, values.force);
    if (kept) process.stdout.write(`the previous embedded database was kept at ${kept}\n`);
  }
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const em = db.orm.em.fork();
    const counts = await inventory(em);
    process.stdout.write(`restored ${target} database: ${Object.entries(counts).map(([t, n]) => `${t} ${n}`).join(', ')}\n`);
    const chain = await verifyAuditChain(em);
    if (!chain.ok) {
      process.stdout.write(`audit chain BROKEN at row ${chain.broken!.seq} (id ${chain.broken!.id}): ${chain.broken!.reason}\n`);
      return 1;
    }
    process.stdout.write(`audit chain verified: ${chain.rows} row(s)${chain.head ? `, head ${chain.head.seq}:${chain.head.hash}` : ''}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`restore failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
