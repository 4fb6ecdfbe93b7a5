import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { ClientEnv } from './credentials.js';
import type { Mode } from './output.js';

/** What a command runs with: its environment and streams (so tests and the bin share one path). */
export interface Cli {
  env: ClientEnv;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Global options: --server, --json. */
  globals(): { server?: string; json?: boolean };
  mode(): Mode;
}

/**
 * One line from stdin: typed without echo on a terminal (a token), else the first line of what is
 * piped in. undefined at end of input (CI with no stdin) or on Ctrl-C.
 */
export function readLine(cli: Cli, prompt: string, opts: { secret?: boolean } = {}): Promise<string | undefined> {
  const terminal = Boolean(cli.stdin.isTTY);
  if (terminal || prompt) cli.err.write(prompt);
  // On a terminal the echo goes nowhere: a pasted token is never shown.
  const output = terminal && opts.secret ? new Writable({ write: (_c, _e, cb) => cb() }) : undefined;
  const rl = createInterface({ input: cli.stdin, ...(output && { output }), terminal: terminal && Boolean(output) });
  return new Promise((resolve) => {
    let answered = false;
    const done = (line: string | undefined) => {
      if (answered) return;
      answered = true;
      if (output) cli.err.write('\n');
      rl.close();
      resolve(line);
    };
    rl.once('line', (line) => done(line.trim()));
    rl.once('close', () => done(undefined));
    rl.once('SIGINT', () => done(undefined));
  });
}

export function print(cli: Cli, text: string): void {
  cli.out.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(cli: Cli, value: unknown): void {
  cli.out.write(`${JSON.stringify(value)}\n`);
}
