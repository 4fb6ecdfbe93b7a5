import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real Postgres and Redis where they answer, else PGlite and a private redis-server; and the
    // check that no test leaves folders or Redis keys behind.
    // tls.ts first: its certificate folder lives outside the suite's temporary folder.
    globalSetup: ['test/setup/tls.ts', 'test/setup/global.ts'],
    setupFiles: ['test/setup/each-file.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests each own a database and a queue prefix, so files may run side by side;
    // two at a time suits the 2-core machines this runs on.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report is what .ci/run counts for its closing line.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
