import { ConfigError, loadConfig, secretsOf } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { EmbeddedDatabaseBusyError, openDatabase } from '../core/db/orm.js';

/** `npm run migrate` applies pending migrations; `npm run migrate -- down` reverts the last one. */
async function main() {
  const config = loadConfig(process.env);
  const logger = createLogger(config.logLevel, { secrets: secretsOf(config) });
  const direction = process.argv[2] ?? 'up';
  if (direction !== 'up' && direction !== 'down') throw new ConfigError(`usage: npm run migrate [-- up|down]`);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger, migrate: direction === 'up' });
  try {
    if (direction === 'down') {
      const reverted = await db.orm.getMigrator().down();
      logger.info({ reverted: reverted.map((m) => m.name) }, 'reverted');
    }
    const pending = await db.orm.getMigrator().getPendingMigrations();
    process.stdout.write(`database ${db.kind}: ${pending.length} pending migration(s)\n`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof EmbeddedDatabaseBusyError) {
    process.stderr.write(`${err.message}; it applies migrations itself when it starts. Stop it first to migrate by hand.\n`);
    process.exit(75);
  }
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
