import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { waitFor } from './app.js';

const root = new URL('../../', import.meta.url).pathname;
export const CLIENT_BIN = `${root}bin/autodevhub.mjs`;

export interface ClientRun {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Waits until stdout + stderr match. */
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<void>;
}

/**
 * The real `autodevhub` binary (bin/autodevhub.mjs), spawned as a person or a CI job would run it:
 * its own process, stdin a pipe (not a terminal), only the environment given.
 */
export function startClient(args: string[], env: Record<string, string>): ClientRun {
  const child = spawn(process.execPath, [CLIENT_BIN, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(re, timeoutMs = 20_000) {
      await waitFor(() => re.test(out + err), timeoutMs, `CLI output ${re} (got: ${(out + err).slice(-500)})`);
    },
  };
}

/** Runs the CLI to its end (stdin closed at once, as in CI). */
export async function client(args: string[], env: Record<string, string>, timeoutMs = 45_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const run = startClient(args, env);
  run.child.stdin.end();
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Parses --json output: one object per line. */
export function jsonLines<T = Record<string, any>>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
