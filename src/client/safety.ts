import type { Command } from 'commander';
import { EXIT, type ExitCode } from './exit.js';
import { print, printJson, type Cli } from './io.js';
import { apiFor, type Action } from './verbs.js';

/**
 * Deploy safety from a terminal (issue 27): `autodevhub lock production "debugging" --for 2h`,
 * `unlock`, `locks`, `freezes`, `queue production`. They are the chat grammar's verbs, sent
 * through POST /api/v1/commands, so the server parses and authorises them as it does chat.
 */

async function say(cli: Cli, text: string, project?: string): Promise<ExitCode> {
  const reply = await apiFor(cli).command(text, project);
  if (cli.mode() === 'json') printJson(cli, reply);
  else print(cli, reply.text);
  return EXIT.succeeded;
}

const quoted = (words: string[]) => (words.length ? ` ${words.join(' ')}` : '');

export function registerSafety(program: Command, act: (fn: Action) => (...args: any[]) => Promise<void>, cli: Cli): void {
  program
    .command('lock')
    .description("Lock an environment: only your deploys go there until you unlock it or the time runs out")
    .argument('<target...>', '[owner/repo] <environment> [reason...]')
    .option('--for <duration>', 'how long, e.g. 2h or 30m (default: until unlocked)')
    .action(act((words: string[], opts: { for?: string }) => say(cli, `lock${quoted(words)}${opts.for ? ` for ${opts.for}` : ''}`)));
  program
    .command('unlock')
    .description("Release your lock (an admin may release another person's, with a reason)")
    .argument('<target...>', '[owner/repo] <environment> [reason...]')
    .action(act((words: string[]) => say(cli, `unlock${quoted(words)}`)));
  program
    .command('locks')
    .description('Locked environments: who holds each lock, why and until when')
    .argument('[repo]', 'owner/repo (default: every project you can see)')
    .action(act((repo: string | undefined) => say(cli, `locks${repo ? ` ${repo}` : ''}`)));
  program
    .command('freezes')
    .description('Freezes and deploy windows: frozen now, and the next two weeks')
    .argument('[target...]', '[owner/repo] [environment]')
    .action(act((words: string[]) => say(cli, `freezes${quoted(words)}`)));
  program
    .command('queue')
    .description("An environment's deploy queue: the deploy under way, the one waiting, its lock and freeze")
    .argument('<target...>', '[owner/repo] <environment>')
    .action(act((words: string[]) => say(cli, `queue${quoted(words)}`)));
}
