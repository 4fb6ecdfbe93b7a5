import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createApiClient, type ApiClient, type CommandResult, type Run, type RunDetail } from './api.js';
import { target } from './credentials.js';
import { CliError, EXIT, type ExitCode } from './exit.js';
import { follow } from './follow.js';
import { print, printJson, type Cli } from './io.js';

/**
 * The chat grammar's verbs (src/core/commands/grammar.ts), each a subcommand. Verbs that start a
 * run go through POST /api/v1/commands, so the server parses and authorises them exactly as it
 * does chat; approvals and cancel use their own routes. `--wait` follows the run it started.
 */

export type Action = (...args: any[]) => Promise<ExitCode>;

export function apiFor(cli: Cli): ApiClient {
  return createApiClient(target(cli.env, cli.globals().server));
}

/** "r1042", "R-1042" → "R-1042"; anything else is a usage error, before the server is asked. */
export function runRef(raw: string): string {
  if (!/^R-?\d{1,9}$/i.test(raw)) throw new CliError(`"${raw.slice(0, 40)}" is not a run reference like R-1042.`, EXIT.usage);
  return `R-${raw.replace(/^R-?/i, '')}`;
}

/** Sends a command; prints the answer, or follows the run it started. */
async function send(cli: Cli, text: string, opts: { project?: string; wait?: boolean }): Promise<{ code: ExitCode; reply: CommandResult; api: ApiClient }> {
  const api = apiFor(cli);
  const reply = await api.command(text, opts.project);
  if (!opts.wait || !reply.run) {
    if (cli.mode() === 'json') printJson(cli, reply);
    else print(cli, reply.text);
    return { code: EXIT.succeeded, reply, api };
  }
  if (cli.mode() !== 'json') cli.err.write(`${reply.text}\n`);
  return { code: (await follow(cli, api, reply.run.ref)).code, reply, api };
}

async function story(cli: Cli, words: string[], opts: { issue?: boolean; pr?: boolean; out?: string; project?: string; wait: boolean }): Promise<ExitCode> {
  const flags = [opts.issue && '--issue', opts.pr && '--pr'].filter(Boolean);
  const { code, reply, api } = await send(cli, ['story', ...words, ...flags].join(' '), opts);
  if (code !== EXIT.succeeded || !opts.wait || !reply.run) return code;
  const { story: s } = await api.get<RunDetail>(`/api/v1/runs/${reply.run.ref}`);
  if (!s) throw new CliError(`${reply.run.ref} finished without a story.`, EXIT.failed);
  if (opts.out) {
    writeFileSync(opts.out, s.gherkin.endsWith('\n') ? s.gherkin : `${s.gherkin}\n`);
    cli.err.write(`Wrote ${opts.out}\n`);
  }
  if (cli.mode() !== 'json') {
    print(cli, `# ${reply.run.ref} · confidence ${s.confidenceScore.toFixed(2)} · ${s.provider === 'offline' ? 'offline generator' : `${s.provider} (${s.model})`}`);
    print(cli, s.gherkin);
    if (s.openQuestions.length) print(cli, `\n# Open questions:\n${s.openQuestions.map((q) => `#  - ${q}`).join('\n')}`);
  }
  return code;
}

async function decide(cli: Cli, decision: 'approve' | 'reject', ref: string, reason: string[], opts: { wait?: boolean }): Promise<ExitCode> {
  const api = apiFor(cli);
  const run = runRef(ref);
  const body = reason.length ? { reason: reason.join(' ') } : {};
  const { outcome } = await api.post<{ run: Run; outcome: 'recorded' | 'approved' | 'rejected' }>(`/api/v1/runs/${run}/${decision}`, body);
  const text = outcome === 'approved' ? `${run} approved; deploying.` : outcome === 'rejected' ? `${run} rejected.` : `Your ${decision === 'approve' ? 'approval' : 'rejection'} of ${run} is recorded.`;
  if (cli.mode() === 'json') printJson(cli, { ref: run, outcome });
  else print(cli, text);
  return opts.wait && outcome === 'approved' ? (await follow(cli, api, run)).code : EXIT.succeeded;
}

async function cancel(cli: Cli, ref: string): Promise<ExitCode> {
  const { run } = await apiFor(cli).post<{ run: Run }>(`/api/v1/runs/${runRef(ref)}/cancel`);
  if (cli.mode() === 'json') printJson(cli, run);
  else print(cli, run.status === 'cancelled' ? `${run.ref} cancelled.` : `${run.ref} had already finished (${run.status}).`);
  return run.status === 'cancelled' ? EXIT.succeeded : EXIT.failed;
}

/** In chat `link` links the channel it is typed in; from a terminal the channel is named. */
async function link(cli: Cli, name: string, channel: string | undefined): Promise<ExitCode> {
  if (!channel) throw new CliError(`Name the channel to link: autodevhub link ${name} --channel slack:C0123 (in chat, "link" links the channel it is typed in).`, EXIT.usage);
  const api = apiFor(cli);
  const { projects } = await api.get<{ projects: Array<{ key: string; repo: string | null }> }>('/api/v1/projects');
  const project = projects.find((p) => p.repo === name || p.key === name);
  if (!project) throw new CliError(`There is no project ${name.slice(0, 100)} that you can see.`, EXIT.failed);
  const linked = await api.post<{ project: { key: string; repo: string | null; channels: string[] } }>(`/api/v1/projects/${encodeURIComponent(project.key)}/channels`, { channel });
  if (cli.mode() === 'json') printJson(cli, linked.project);
  else print(cli, `${channel} is now linked to ${linked.project.repo ?? linked.project.key} (project ${linked.project.key}); commands there may leave out the repository.`);
  return EXIT.succeeded;
}

export function registerVerbs(program: Command, act: (fn: Action) => (...args: any[]) => Promise<void>, cli: Cli): void {
  const wait = '--wait';
  const waitHelp = 'follow the run until it finishes; the exit code is its outcome';
  const project = ['-p, --project <key>', 'the project to run in, when the command does not name one'] as const;
  const override = '--override <reason>';
  const overrideHelp = 'admins: go past locks, freezes, branch rules, soak and wait timers (audited, shown on the approval card)';
  const overriding = (opts: { override?: string }) => (opts.override ? ` --override "${opts.override}"` : '');
  program
    .command('story')
    .description('Turn a feature idea into a Gherkin user story with a confidence score (waits and prints it)')
    .argument('<description...>', 'the feature idea, e.g. "As a shopper I want to save my cart so that I can buy later"')
    .option('--issue', "also file it in the project's issue tracker")
    .option('--pr', 'also open a pull request with the feature file')
    .option('-o, --out <file>', 'write the Gherkin to this file')
    .option('--no-wait', 'print the run reference and return at once')
    .option(...project)
    .action(act((words: string[], opts) => story(cli, words, opts)));
  program
    .command('docs')
    .description('Document the changes in a range and propose them as a pull request')
    .argument('[repo]', 'owner/repo (default: the project)')
    .argument('[range]', 'base...head, e.g. v1.2.0...main')
    .option(wait, waitHelp)
    .option(...project)
    .action(act(async (repo: string | undefined, range: string | undefined, opts) => (await send(cli, ['docs', repo, range].filter(Boolean).join(' '), opts)).code));
  program
    .command('deploy')
    .description('Quality gate, approvals, deployment through GitHub, smoke check')
    .argument('<target...>', '[owner/repo] <environment> [ref]')
    .option(wait, waitHelp)
    .option(...project)
    .option(override, overrideHelp)
    .action(act(async (words: string[], opts) => (await send(cli, ['deploy', ...words].join(' ') + overriding(opts), opts)).code));
  program
    .command('promote')
    .description("Deploy a succeeded deploy's commit to the next environment of the pipeline")
    .argument('<run>', 'the deploy run, e.g. R-1042')
    .option(wait, waitHelp)
    .option(override, overrideHelp)
    .action(act(async (ref: string, opts) => (await send(cli, `promote ${runRef(ref)}${overriding(opts)}`, opts)).code));
  program
    .command('rollback')
    .description('Redeploy the last commit that succeeded in an environment before the current one')
    .argument('<environment>')
    .argument('[project]', 'project key or owner/repo')
    .option(wait, waitHelp)
    .option(override, overrideHelp)
    .action(act(async (env: string, proj: string | undefined, opts) => (await send(cli, ['rollback', env, proj].filter(Boolean).join(' ') + overriding(opts), opts)).code));
  for (const decision of ['approve', 'reject'] as const) {
    const verb = program
      .command(decision)
      .description(decision === 'approve' ? 'Approve a deploy waiting for you' : 'Reject a deploy waiting for approval')
      .argument('<run>', 'e.g. R-1042')
      .argument('[reason...]');
    if (decision === 'approve') verb.option(wait, 'follow the deploy once your approval starts it');
    verb.action(act((ref: string, reason: string[], opts) => decide(cli, decision, ref, reason, opts)));
  }
  program.command('cancel').description('Stop a run that has not finished').argument('<run>').action(act((ref: string) => cancel(cli, ref)));
  program
    .command('status')
    .description('Your recent runs, or one run in detail')
    .argument('[run]')
    .action(act(async (ref: string | undefined) => (await send(cli, ref ? `status ${runRef(ref)}` : 'status', {})).code));
  program
    .command('link')
    .description('Link a chat channel to a project, so commands there may leave out the repository')
    .argument('<project>', 'owner/repo or project key')
    .option('-c, --channel <channel>', 'the channel: slack:C0123, discord:112233 or teams:19:…@thread.tacv2')
    .action(act((projectName: string, opts: { channel?: string }) => link(cli, projectName, opts.channel)));
}
