import type { ApiClient, FeedEvent } from './api.js';
import { CliError, EXIT, exitForRun, type ExitCode } from './exit.js';
import { print, readLine, type Cli } from './io.js';
import { createReporter } from './output.js';
import { wasRejected, watchRun, type WatchResult } from './watch.js';

/**
 * `watch`, and `--wait` on the verbs that start runs: live progress until the run finishes, then
 * the exit code its outcome maps to. Ctrl-C stops watching and asks whether to cancel the run.
 */
export async function follow(cli: Cli, api: ApiClient, ref: string): Promise<{ code: ExitCode; final?: FeedEvent }> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  let result: WatchResult;
  try {
    result = await watchRun(api, ref, { reporter: createReporter(cli.mode(), cli), signal: controller.signal });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (result.interrupted) return { code: await afterInterrupt(cli, api, result.run.ref) };
  const final = result.final!;
  const rejected = wasRejected(final);
  const code = exitForRun({ status: final.status, rejected });
  if (code !== EXIT.succeeded && cli.mode() !== 'json') cli.err.write(`${final.ref} ${rejected ? 'was rejected' : final.status.replace('_', ' ')}: ${outcomeText(final, result.run.error)}\n`);
  return { code, final };
}

function outcomeText(e: FeedEvent, error: string | null): string {
  // What is missing, in words (the reason is a code for programs), and the example as given.
  const needs = e.data?.needsInput as { reason?: string; missing?: string; example?: string } | undefined;
  if (needs) {
    const example = needs.example ? (/^for example/i.test(needs.example) ? ` ${needs.example}` : ` For example: ${needs.example}`) : '';
    return `${needs.missing ?? e.message}${example}`;
  }
  return e.message || error || 'no details';
}

/** Ctrl-C while watching: the run goes on unless the person asks to cancel it. */
async function afterInterrupt(cli: Cli, api: ApiClient, ref: string): Promise<ExitCode> {
  // A second Ctrl-C during the question answers "no" and leaves at once.
  const leave = () => process.exit(EXIT.interrupted);
  process.once('SIGINT', leave);
  try {
    const answer = await readLine(cli, `\nStopped watching ${ref}. Cancel the run too? [y/N] `);
    if (!/^y(es)?$/i.test(answer ?? '')) {
      cli.err.write(`${ref} goes on. Follow it again with: autodevhub watch ${ref}\n`);
      return EXIT.interrupted;
    }
    const { run } = await api.post<{ run: { ref: string; status: string } }>(`/api/v1/runs/${encodeURIComponent(ref)}/cancel`);
    if (run.status !== 'cancelled') throw new CliError(`${run.ref} had already finished (${run.status}).`, EXIT.failed);
    print(cli, `${run.ref} cancelled.`);
    return EXIT.rejected;
  } finally {
    process.off('SIGINT', leave);
  }
}
