import { afterAll, vi } from 'vitest';
import { removeTempDirs } from '../helpers/tmp.js';
import { TEST_PGLITE } from '../helpers/env.js';

// Runs after every test file: the folders it made with tempDir() go with it.
afterAll(() => removeTempDirs());

// PGlite (no Postgres answering, see global.ts) is Postgres in WASM, several times slower: tests
// that start an app in their body get more time there. Tests with their own timeout keep it.
if (TEST_PGLITE) vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });
