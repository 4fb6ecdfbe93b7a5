import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { TEST_SECRET } from './app.js';
import { tempDir } from './tmp.js';

const root = new URL('../../', import.meta.url).pathname;

/** Runs one of the project's CLIs (src/cli/<name>.ts) as `npm run <name>` would, with its own env. */
export function runCli(name: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(root, 'node_modules/.bin/tsx'),
      [join(root, `src/cli/${name}.ts`), ...args],
      {
        cwd: root,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AUTODEVHUB_SECRET: TEST_SECRET, DATA_DIR: tempDir('cli'), LOG_LEVEL: 'warn', ...env },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
