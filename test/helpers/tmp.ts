import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TEST_PREFIX_STEM } from './env.js';

// One registry per worker process: Vitest may load this module once for the setup file and again
// for a test file, and the setup file's afterAll must see every folder the test file made.
const registry = globalThis as typeof globalThis & { __adhTempDirs?: Set<string> };
const made = (registry.__adhTempDirs ??= new Set<string>());

/** A temporary folder removed after the test file (test/setup/each-file.ts). */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `adh-${label}-`));
  made.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

/** A Redis key prefix of its own for one test, found by the suite's leftover check if not removed. */
export function testPrefix(): string {
  return `${TEST_PREFIX_STEM}-${randomBytes(5).toString('hex')}`;
}
