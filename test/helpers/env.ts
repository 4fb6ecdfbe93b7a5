/**
 * Where the test suite finds its services. test/setup/global.ts decides once per run: the real
 * Postgres and Redis where they answer (CI), else PGlite databases and a private redis-server, and
 * writes its choice into these variables before the test files start.
 */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Set by the global setup when no Postgres answered: each test database is a PGlite instance. */
export const TEST_PGLITE = process.env.ADH_TEST_PGLITE === '1';
/** This run's Redis key prefix stem: every test prefix starts with it, so leftovers can be found. */
export const TEST_PREFIX_STEM = process.env.ADH_TEST_RUN ? `adhtest-${process.env.ADH_TEST_RUN}` : 'adhtest';
