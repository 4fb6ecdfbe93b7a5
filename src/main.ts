import { ConfigError, loadConfig, secretsOf } from './core/config.js';
import { createLogger } from './core/logger.js';
import { RedisPolicyError } from './jobs/redis.js';
import { RedisUnavailableError } from './jobs/local-redis.js';
import { EmbeddedDatabaseBusyError } from './core/db/orm.js';
import { startAutoDevHub } from './app.js';

/** Stop accepting, let running jobs finish or return to the queue, close connections: within 10 s. */
const SHUTDOWN_DEADLINE_MS = 10_000;

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`AutoDevHub cannot start: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, { secrets: secretsOf(config), pretty: Boolean(process.stdout.isTTY) });
  let running: Awaited<ReturnType<typeof startAutoDevHub>>;
  try {
    running = await startAutoDevHub(config, { logger, shutdownGraceMs: SHUTDOWN_DEADLINE_MS - 2000 });
  } catch (err) {
    if (err instanceof RedisPolicyError) {
      process.stderr.write(`AutoDevHub cannot start: ${err.message}\n`);
      process.exit(78);
    }
    if (err instanceof RedisUnavailableError) {
      process.stderr.write(`AutoDevHub cannot start: ${err.message}\n`);
      process.exit(69);
    }
    if (err instanceof EmbeddedDatabaseBusyError) {
      process.stderr.write(`AutoDevHub cannot start: ${err.message}. Stop it first, or give this one another DATA_DIR.\n`);
      process.exit(75);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'EADDRINUSE') {
      process.stderr.write(`AutoDevHub cannot start: ${(err as Error).message}. Check DATABASE_URL, REDIS_URL, HOST and PORT.\n`);
      process.exit(69);
    }
    throw err;
  }
  logger.info({ role: config.role, database: running.db.kind }, 'AutoDevHub started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The terminal that ran `npm start` was closed: stop as cleanly as on Ctrl-C (the private Redis
  // and the embedded database's claim go with it).
  process.on('SIGHUP', () => stop('SIGHUP'));
}

main().catch((err: unknown) => {
  process.stderr.write(`AutoDevHub failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
