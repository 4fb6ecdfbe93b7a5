import { ConfigError, loadConfig } from './core/config.js';
import { createLogger } from './core/logger.js';
import { RedisPolicyError } from './jobs/redis.js';
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
  const logger = createLogger(config.logLevel);
  let running: Awaited<ReturnType<typeof startAutoDevHub>>;
  try {
    running = await startAutoDevHub(config, { logger, shutdownGraceMs: SHUTDOWN_DEADLINE_MS - 2000 });
  } catch (err) {
    if (err instanceof RedisPolicyError) {
      process.stderr.write(`AutoDevHub cannot start: ${err.message}\n`);
      process.exit(78);
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
}

main().catch((err: unknown) => {
  process.stderr.write(`AutoDevHub failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
