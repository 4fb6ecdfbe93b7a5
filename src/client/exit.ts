/**
 * The CLI's exit codes, for scripts and CI (docs/DESIGN.md, "Command-line client"), and the one
 * error type every part of the client throws: a message for a person, never a stack.
 */

export const EXIT = {
  succeeded: 0,
  failed: 1,
  usage: 2,
  rejected: 3,
  notPermitted: 4,
  unreachable: 5,
  /** A story run that ended `needs_input`: not a failure, the description must be rewritten. */
  needsInput: 6,
  /** Ctrl-C: stopped watching, the run goes on (the shell's convention, 128 + SIGINT). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}

/** No token for this server. Whether the server can be reached at all is worth saying first. */
export class NotSignedIn extends CliError {
  override name = 'NotSignedIn';
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message, EXIT.notPermitted);
  }
}

/** How the server's refusal (HTTP status, and the error code of its JSON body) maps to an exit code. */
export function exitForStatus(status: number, code?: string): ExitCode {
  // A feature the server is not set up for (e.g. no GITHUB_TOKEN): failed, not unreachable, so a
  // script does not retry what only configuration can mend.
  if (code === 'not_configured') return EXIT.failed;
  // 404: the reference names no run (or token, or project): a mistake in the arguments, not a failed run.
  if (status === 400 || status === 404 || status === 422) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.notPermitted;
  // What a proxy or load balancer answers while the server is down or restarting.
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.failed;
}

/** How a run that finished maps to an exit code. */
export function exitForRun(run: { status: string; rejected?: boolean }): ExitCode {
  if (run.status === 'succeeded') return EXIT.succeeded;
  if (run.status === 'cancelled' || run.rejected) return EXIT.rejected;
  if (run.status === 'needs_input') return EXIT.needsInput;
  return EXIT.failed;
}
