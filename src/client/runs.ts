import type { Command } from 'commander';
import type { Run } from './api.js';
import { CliError, EXIT, type ExitCode } from './exit.js';
import { follow } from './follow.js';
import { print, printJson, type Cli } from './io.js';
import { apiFor, runRef, type Action } from './verbs.js';

/** `runs` (a filtered list) and `watch` (live progress of one run). */

const KINDS = ['story', 'docs', 'deploy'];
const STATUSES = ['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled', 'needs_input'];

function columns(ref: string, kind: string, status: string, stage: string, project: string, by: string, started: string, what: string): string {
  return `${ref.padEnd(8)} ${kind.padEnd(6)} ${status.padEnd(16)} ${stage.padEnd(12)} ${project.padEnd(10)} ${by.padEnd(18)} ${started.padEnd(16)}  ${what}`.trimEnd();
}

const HEADER = columns('RUN', 'KIND', 'STATUS', 'STAGE', 'PROJECT', 'BY', 'STARTED (UTC)', 'WHAT');

function runLine(r: Run): string {
  const what = r.input.description ? String(r.input.description).slice(0, 60) : '';
  return columns(r.ref, r.kind, r.status, r.stage ?? '', r.projectKey ?? '-', r.requestedBy, r.createdAt.slice(0, 16).replace('T', ' '), what);
}

interface RunsOptions {
  project?: string;
  kind?: string;
  status?: string;
  by?: string;
  limit: string;
}

async function listRuns(cli: Cli, opts: RunsOptions): Promise<ExitCode> {
  if (opts.kind && !KINDS.includes(opts.kind)) throw new CliError(`--kind is one of ${KINDS.join(', ')}.`, EXIT.usage);
  if (opts.status && !STATUSES.includes(opts.status)) throw new CliError(`--status is one of ${STATUSES.join(', ')}.`, EXIT.usage);
  if (!/^\d{1,3}$/.test(opts.limit) || Number(opts.limit) < 1 || Number(opts.limit) > 200) throw new CliError(`--limit is a whole number from 1 to 200, not "${opts.limit.slice(0, 20)}".`, EXIT.usage);
  const q = new URLSearchParams({ limit: opts.limit });
  if (opts.project) q.set('project', opts.project);
  if (opts.kind) q.set('kind', opts.kind);
  if (opts.status) q.set('status', opts.status);
  if (opts.by) q.set('requestedBy', opts.by);
  const { runs } = await apiFor(cli).get<{ runs: Run[] }>(`/api/v1/runs?${q}`);
  if (cli.mode() === 'json') for (const r of runs) printJson(cli, r);
  else print(cli, runs.length ? [HEADER, ...runs.map(runLine)].join('\n') : 'No runs match.');
  return EXIT.succeeded;
}

export function registerRuns(program: Command, act: (fn: Action) => (...args: any[]) => Promise<void>, cli: Cli): void {
  program
    .command('runs')
    .description('Runs you may see, newest first')
    .option('-p, --project <key>', 'only this project')
    .option('-k, --kind <kind>', KINDS.join(' | '))
    .option('-s, --status <status>', STATUSES.join(' | '))
    .option('--by <handle>', 'requested by, e.g. slack:U0123 or web:admin')
    .option('-n, --limit <n>', 'at most this many (1-200)', '20')
    .action(act((opts: RunsOptions) => listRuns(cli, opts)));
  program
    .command('watch')
    .description('Live progress of a run until it finishes; the exit code is its outcome (Ctrl-C stops watching)')
    .argument('<run>', 'e.g. R-1042')
    .action(act(async (ref: string) => (await follow(cli, apiFor(cli), runRef(ref))).code));
}
