import { Command, CommanderError } from 'commander';
import { registerAccount } from './account.js';
import { registerCompletion } from './completion.js';
import { CliError, EXIT, NotSignedIn, type ExitCode } from './exit.js';
import type { Cli } from './io.js';
import { chooseMode } from './output.js';
import { registerRuns } from './runs.js';
import { registerVerbs, type Action } from './verbs.js';
import { registerSafety } from './safety.js';

/**
 * `autodevhub`: the command-line client of an AutoDevHub server, over its public REST API and live
 * feed, with an API token. It imports nothing from the server's code: it is a client like any other.
 * The environment is read here only (AUTODEVHUB_URL, AUTODEVHUB_TOKEN, XDG_CONFIG_HOME, HOME).
 */

export const VERSION = '0.1.0';

export function createProgram(cli: Omit<Cli, 'globals' | 'mode'>, setCode: (code: ExitCode) => void): Command {
  const program = new Command('autodevhub');
  const full: Cli = {
    ...cli,
    globals: () => program.opts<{ server?: string; json?: boolean }>(),
    mode: () => chooseMode(program.opts<{ json?: boolean }>(), cli.err),
  };
  program
    .description('AutoDevHub from a terminal or CI: stories, docs, deploys and approvals, with live progress.')
    .version(VERSION)
    .option('--server <url>', 'the server (default: AUTODEVHUB_URL, else the last one you signed in to)')
    .option('--json', 'machine output: one JSON object per line (run events while watching)')
    .showHelpAfterError('(run autodevhub --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 succeeded, 1 failed, 2 usage error, 3 rejected or cancelled, 4 not permitted, 5 could not reach the server (130: stopped watching).\n' +
        'Environment: AUTODEVHUB_URL, AUTODEVHUB_TOKEN (CI), XDG_CONFIG_HOME (where credentials are kept).',
    )
    .configureOutput({ writeOut: (s) => cli.out.write(s), writeErr: (s) => cli.err.write(s) })
    .exitOverride();
  const act =
    (fn: Action) =>
    async (...args: unknown[]) => {
      // commander passes the options object and the command last; handlers take what they declare.
      setCode(await fn(...args.slice(0, -1)));
    };
  registerVerbs(program, act, full);
  registerSafety(program, act, full);
  registerRuns(program, act, full);
  registerAccount(program, act, full);
  registerCompletion(program, act, full);
  for (const sub of program.commands) sub.exitOverride().configureOutput({ writeOut: (s) => cli.out.write(s), writeErr: (s) => cli.err.write(s) });
  return program;
}

/** Why the server cannot be reached, or undefined when something answers there. */
async function reachability(url: string): Promise<string | undefined> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return (err as Error).name === 'TimeoutError' ? 'no answer in 3 s' : (cause?.code ?? (err as Error).message);
  }
}

/** Runs the CLI; resolves to the exit code. Errors are messages (never stacks) on stderr. */
export async function runCli(argv: string[], cli: Omit<Cli, 'globals' | 'mode'>): Promise<ExitCode> {
  let code: ExitCode = EXIT.succeeded;
  const program = createProgram(cli, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, successfully.
      return err.exitCode === 0 ? EXIT.succeeded : EXIT.usage;
    }
    if (err instanceof NotSignedIn) {
      // A mistyped --server is not a sign-in problem: say it cannot be reached (exit 5) first.
      const unreachable = await reachability(err.url);
      if (unreachable) {
        cli.err.write(`autodevhub: Could not reach ${err.url} (${unreachable}). (You are not signed in there either.)\n`);
        return EXIT.unreachable;
      }
    }
    if (err instanceof CliError) {
      cli.err.write(`autodevhub: ${err.message}\n`);
      return err.exitCode;
    }
    cli.err.write(`autodevhub: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failed;
  }
}

export async function main(): Promise<void> {
  // `autodevhub runs | head -3`: the reader went away. That is the reader's choice, not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT.succeeded);
      throw err;
    });
  }
  const { AUTODEVHUB_URL, AUTODEVHUB_TOKEN, XDG_CONFIG_HOME, HOME } = process.env;
  const env = { ...(AUTODEVHUB_URL && { AUTODEVHUB_URL }), ...(AUTODEVHUB_TOKEN && { AUTODEVHUB_TOKEN }), ...(XDG_CONFIG_HOME && { XDG_CONFIG_HOME }), ...(HOME && { HOME }) };
  const code = await runCli(process.argv.slice(2), { env, out: process.stdout, err: process.stderr, stdin: process.stdin });
  // Let stdout drain (a pipe to jq), then leave with the code; open sockets or timers do not hold us.
  process.stdout.write('', () => process.exit(code));
}
