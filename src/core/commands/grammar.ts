/**
 * The one command grammar, shared by Slack, Discord, Teams, the web console, the CLI and the API:
 * `<verb> [arguments]`. Parsing never throws: bad input becomes a `usage` result whose text the
 * surface shows as is.
 */

import { unstorableText } from '../runs/model.js';

export const MAX_DESCRIPTION_LENGTH = 4000;

export type Verb = 'help' | 'story' | 'docs' | 'deploy' | 'promote' | 'rollback' | 'status' | 'approve' | 'reject' | 'cancel' | 'link' | 'whoami' | 'lock' | 'unlock' | 'locks' | 'freezes' | 'queue';
export type StoryExportFlag = 'issue' | 'pull_request';

export type Command =
  | { verb: 'help'; topic?: Verb }
  | { verb: 'story'; description: string; exports?: StoryExportFlag[] }
  | { verb: 'docs'; repo?: string; range?: { base: string; head: string } }
  | { verb: 'deploy'; repo?: string; environment: string; ref?: string; override?: string }
  | { verb: 'promote'; run: string; override?: string }
  | { verb: 'rollback'; environment: string; project?: string; override?: string }
  | { verb: 'lock'; repo?: string; environment: string; reason?: string; forMs?: number }
  | { verb: 'unlock'; repo?: string; environment: string; reason?: string }
  | { verb: 'locks'; repo?: string }
  | { verb: 'freezes'; repo?: string; environment?: string }
  | { verb: 'queue'; repo?: string; environment: string }
  | { verb: 'status'; run?: string }
  | { verb: 'approve'; run: string; reason?: string }
  | { verb: 'reject'; run: string; reason?: string }
  | { verb: 'cancel'; run: string }
  | { verb: 'link'; repo: string }
  | { verb: 'whoami' };

export type ParseResult = { ok: true; command: Command } | { ok: false; error: string; usage: string };

const USAGE: Record<Verb, { synopsis: string; text: string }> = {
  help: { synopsis: 'help [verb]', text: 'Show this help, or the usage of one verb.' },
  story: {
    synopsis: 'story <feature description> [--issue] [--pr]',
    text:
      'Turn a feature idea into a Gherkin user story with a confidence score.\n' +
      '--issue files it in the project\'s issue tracker; --pr opens a pull request with the feature file and step skeletons.\n' +
      'Example: story As a shopper I want to save my cart so that I can buy later',
  },
  docs: {
    synopsis: 'docs [owner/repo] [base...head]',
    text: 'Document the code changes in a range and propose them as a pull request.',
  },
  deploy: {
    synopsis: 'deploy [owner/repo] <environment> [ref] [--override "reason"]',
    text: 'Run the quality gate, ask the approvers, deploy through GitHub and report.\n--override "reason" (admins) goes past locks, freezes, branch rules, soak and wait timers; it is audited and shown on the approval card.',
  },
  promote: { synopsis: 'promote <run> [--override "reason"]', text: "Deploy a succeeded deploy's commit to the next environment of the project's promotion pipeline." },
  rollback: {
    synopsis: 'rollback <environment> [project] [--override "reason"]',
    text: 'Redeploy the last commit that succeeded in the environment before the current one (project: key or owner/repo; default: the channel\'s).',
  },
  status: { synopsis: 'status [run]', text: "Show this channel's recent runs, or one run (e.g. R-1042) in detail." },
  approve: { synopsis: 'approve <run> [reason]', text: 'Approve a deployment waiting for you.' },
  reject: { synopsis: 'reject <run> [reason]', text: 'Reject a deployment waiting for approval.' },
  cancel: { synopsis: 'cancel <run>', text: 'Stop a run that has not finished.' },
  link: { synopsis: 'link <owner/repo>', text: 'Link this channel to a project, so later commands may omit the repo.' },
  lock: {
    synopsis: 'lock [owner/repo] <environment> [reason] [for 2h]',
    text: 'Lock an environment: only your deploys go there until you unlock it or the time runs out.\nExample: lock production debugging the cache for 2h',
  },
  unlock: { synopsis: 'unlock [owner/repo] <environment> [reason]', text: "Release your lock; an admin may release another person's lock with a reason." },
  locks: { synopsis: 'locks [owner/repo]', text: 'Show the locked environments: who holds each lock, why and until when.' },
  freezes: { synopsis: 'freezes [owner/repo] [environment]', text: 'Show freezes and deploy windows: frozen now, and the freezes of the next two weeks.' },
  queue: { synopsis: 'queue [owner/repo] <environment>', text: "Show the environment's deploy queue: the deploy under way, the one waiting, the lock and freeze." },
  whoami: { synopsis: 'whoami', text: 'Who AutoDevHub takes you for, your roles, and a link to join this identity to your console account.' },
};

export const VERBS = Object.keys(USAGE) as Verb[];

export function usageFor(verb?: Verb, prefix = '/autodevhub'): string {
  // The console and the API have no prefix: no stray space before the verb.
  const lead = prefix ? `${prefix} ` : '';
  if (verb) {
    const u = USAGE[verb];
    return `Usage: ${lead}${u.synopsis}\n${u.text}`;
  }
  const lines = VERBS.map((v) => `  ${lead}${USAGE[v].synopsis.padEnd(38)} ${USAGE[v].text.split('\n')[0]}`);
  return `AutoDevHub commands:\n${lines.join('\n')}\nSee "${lead}help <verb>" for details.`;
}

const REPO_RE = /^[\w.-]+\/[\w.-]+$/;
const RUN_RE = /^R-?\d+$/i;
const RANGE_RE = /^([\w./-]+)\.\.\.([\w./-]+)$/;
const PROJECT_KEY_RE = /^[a-z0-9][a-z0-9_-]*$/i;
const DURATION_TAIL_RE = /\s+for\s+((?:\d+\s*[smhd]\s*)+)$/i;
/** A tail that tries to say how long ("for 1.5h", "for 2 hours", "for -1h", "for 1w") but is not a time we read. */
const DURATION_ATTEMPT_RE = /\s+for\s+[-+.]?\d[\w.]*(\s+[a-z]+)?$/i;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_LOCK_MS = 30 * 86_400_000;
const OVERRIDE_RE = /(?:^|\s)--override(?:\s+(.*))?$/i;

/** Quotes around a reason typed in chat ("…", “…”, '…') are not part of it. */
function unquote(text: string): string {
  const t = text.trim();
  const m = /^["“'](.*)["”']$/.exec(t);
  return (m ? m[1]! : t).trim();
}

/** `… --override "reason"` at the end of a deploy, promote or rollback: the rest and the reason. */
function overrideOf(rest: string): { rest: string; override?: string } | { error: string } {
  const m = OVERRIDE_RE.exec(rest);
  if (!m) return { rest };
  const reason = m[1] ? unquote(m[1]) : '';
  if (!reason) return { error: 'Say why after --override, as in --override "hotfix for the outage".' };
  return { rest: rest.slice(0, m.index).trim(), override: reason };
}

/** `[owner/repo] <environment> …`: the optional repository and the environment, then the rest. */
function repoAndEnvironment(args: string[]): { repo?: string; environment?: string; rest: string[] } {
  const a = [...args];
  const repo = a[0] && REPO_RE.test(a[0]) ? a.shift() : undefined;
  const environment = a.shift();
  return { ...(repo && { repo }), ...(environment && { environment }), rest: a };
}

function parseLock(verb: 'lock' | 'unlock', rest: string): ParseResult {
  let text = rest;
  let forMs: number | undefined;
  const d = verb === 'lock' ? DURATION_TAIL_RE.exec(` ${text}`) : null;
  if (d) {
    forMs = [...d[1]!.matchAll(/(\d+)\s*([smhd])/gi)].reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit!.toLowerCase() as keyof typeof UNIT_MS], 0);
    if (forMs <= 0 || forMs > MAX_LOCK_MS) return fail('lock', 'A lock lasts between 1s and 30d.');
    text = ` ${text}`.slice(0, d.index).trim();
  } else if (verb === 'lock' && DURATION_ATTEMPT_RE.test(` ${text}`)) {
    // Taken as words of the reason, it would make a lock that never ends.
    return fail('lock', 'Say how long in whole s, m, h or d, like "for 90m", "for 2h" or "for 1h30m".');
  }
  const { repo, environment, rest: words } = repoAndEnvironment(text ? text.split(' ') : []);
  if (!environment) return fail(verb, `Name the environment to ${verb}.`);
  const reason = words.length ? unquote(words.join(' ')).slice(0, 300) : undefined;
  return { ok: true, command: { verb, environment, ...(repo && { repo }), ...(reason && { reason }), ...(forMs && { forMs }) } as Command };
}

const STORY_FLAGS: Record<string, StoryExportFlag> = { '--issue': 'issue', '--pr': 'pull_request' };

/** `--issue` and `--pr` at the end of a story description are options, not words of it. */
function storyFlags(text: string): { description: string; exports: StoryExportFlag[] } {
  const words = text.split(/(\s+)/);
  const exports: StoryExportFlag[] = [];
  while (words.length) {
    const last = words.at(-1)!;
    if (!last.trim()) {
      words.pop();
      continue;
    }
    const flag = STORY_FLAGS[last.toLowerCase()];
    if (!flag) break;
    if (!exports.includes(flag)) exports.unshift(flag);
    words.pop();
  }
  return { description: words.join('').trim(), exports: (['issue', 'pull_request'] as const).filter((f) => exports.includes(f)) };
}

function isVerb(word: string): word is Verb {
  return (VERBS as string[]).includes(word);
}

function fail(verb: Verb | undefined, error: string): ParseResult {
  return { ok: false, error, usage: usageFor(verb) };
}

/** Normalises a run reference typed by a person: "r1042", "R-1042" → "R-1042". */
export function normaliseRunRef(ref: string): string | undefined {
  if (!RUN_RE.test(ref)) return undefined;
  return `R-${ref.replace(/^R-?/i, '')}`;
}

export function parseCommand(input: string): ParseResult {
  // Refused at the edge, before anything is written: Postgres cannot store a NUL, and a lone
  // surrogate is not text at all.
  const unstorable = unstorableText(input);
  if (unstorable) return fail(undefined, `The command contains ${unstorable}; remove it and try again.`);
  const text = input.replace(/\s+/g, ' ').trim();
  if (!text) return { ok: true, command: { verb: 'help' } };
  const space = text.indexOf(' ');
  const word = (space === -1 ? text : text.slice(0, space)).toLowerCase();
  const rest = space === -1 ? '' : text.slice(space + 1).trim();
  if (!isVerb(word)) return fail(undefined, `Unknown command "${word.slice(0, 40)}".`);
  const args = rest ? rest.split(' ') : [];

  switch (word) {
    case 'help': {
      const topic = args[0]?.toLowerCase();
      if (!topic) return { ok: true, command: { verb: 'help' } };
      if (!isVerb(topic)) return fail(undefined, `There is no command "${topic.slice(0, 40)}".`);
      return { ok: true, command: { verb: 'help', topic } };
    }
    case 'story': {
      // Slash-command text arrives with newlines folded; the original spacing of the idea is not significant.
      const { description, exports } = storyFlags(input.trim().replace(/^story\b/i, '').trim());
      if (!description) return fail('story', 'Describe the feature after "story".');
      if (description.length > MAX_DESCRIPTION_LENGTH) {
        return fail('story', `The description is ${description.length} characters; the limit is ${MAX_DESCRIPTION_LENGTH}.`);
      }
      return { ok: true, command: { verb: 'story', description, ...(exports.length && { exports }) } };
    }
    case 'docs': {
      let repo: string | undefined;
      let range: { base: string; head: string } | undefined;
      for (const a of args) {
        const m = RANGE_RE.exec(a);
        if (m) range = { base: m[1]!, head: m[2]! };
        else if (REPO_RE.test(a) && !repo) repo = a;
        else return fail('docs', `Did not understand "${a.slice(0, 60)}".`);
      }
      return { ok: true, command: { verb: 'docs', ...(repo && { repo }), ...(range && { range }) } };
    }
    case 'deploy': {
      const o = overrideOf(rest);
      if ('error' in o) return fail('deploy', o.error);
      const a = o.rest ? o.rest.split(' ') : [];
      const repo = a[0] && REPO_RE.test(a[0]) ? a.shift() : undefined;
      const environment = a.shift();
      const ref = a.shift();
      if (!environment) return fail('deploy', 'Name the environment to deploy to.');
      if (a.length) return fail('deploy', `Unexpected "${a.join(' ').slice(0, 60)}".`);
      return { ok: true, command: { verb: 'deploy', environment, ...(repo && { repo }), ...(ref && { ref }), ...(o.override && { override: o.override }) } };
    }
    case 'promote': {
      const o = overrideOf(rest);
      if ('error' in o) return fail('promote', o.error);
      const a = o.rest ? o.rest.split(' ') : [];
      const run = a[0] ? normaliseRunRef(a[0]) : undefined;
      if (!run || a.length > 1) return fail('promote', 'Name the deploy run to promote, like R-1042.');
      return { ok: true, command: { verb: 'promote', run, ...(o.override && { override: o.override }) } };
    }
    case 'rollback': {
      const o = overrideOf(rest);
      if ('error' in o) return fail('rollback', o.error);
      const a = o.rest ? o.rest.split(' ') : [];
      // "rollback acme/web production" reads as well as "rollback production acme/web".
      const repoFirst = a[0] && REPO_RE.test(a[0]) ? a.shift() : undefined;
      const environment = a.shift();
      const project = repoFirst ?? a.shift();
      if (!environment) return fail('rollback', 'Name the environment to roll back.');
      if (a.length || (project && !REPO_RE.test(project) && !PROJECT_KEY_RE.test(project))) return fail('rollback', `Unexpected "${[project, ...a].join(' ').slice(0, 60)}".`);
      return { ok: true, command: { verb: 'rollback', environment, ...(project && { project }), ...(o.override && { override: o.override }) } };
    }
    case 'status': {
      if (!args[0]) return { ok: true, command: { verb: 'status' } };
      const run = normaliseRunRef(args[0]);
      if (!run || args.length > 1) return fail('status', `"${rest.slice(0, 60)}" is not a run reference like R-1042.`);
      return { ok: true, command: { verb: 'status', run } };
    }
    case 'approve':
    case 'reject': {
      const run = args[0] ? normaliseRunRef(args[0]) : undefined;
      if (!run) return fail(word, 'Name the run, like R-1042.');
      const reason = args.slice(1).join(' ') || undefined;
      return { ok: true, command: { verb: word, run, ...(reason && { reason }) } };
    }
    case 'cancel': {
      const run = args[0] ? normaliseRunRef(args[0]) : undefined;
      if (!run || args.length > 1) return fail('cancel', 'Name the run, like R-1042.');
      return { ok: true, command: { verb: 'cancel', run } };
    }
    case 'link': {
      if (!args[0] || !REPO_RE.test(args[0]) || args.length > 1) return fail('link', 'Name the repository as owner/repo.');
      return { ok: true, command: { verb: 'link', repo: args[0] } };
    }
    case 'lock':
    case 'unlock':
      return parseLock(word, rest);
    case 'locks':
      if (args.length > 1 || (args[0] && !REPO_RE.test(args[0]))) return fail('locks', 'Name the repository as owner/repo, or nothing.');
      return { ok: true, command: { verb: 'locks', ...(args[0] && { repo: args[0] }) } };
    case 'freezes':
    case 'queue': {
      const { repo, environment, rest: extra } = repoAndEnvironment(args);
      if (extra.length) return fail(word, `Unexpected "${extra.join(' ').slice(0, 60)}".`);
      if (word === 'queue') {
        if (!environment) return fail('queue', 'Name the environment, like production.');
        return { ok: true, command: { verb: 'queue', environment, ...(repo && { repo }) } };
      }
      return { ok: true, command: { verb: 'freezes', ...(repo && { repo }), ...(environment && { environment }) } };
    }
    case 'whoami':
      if (args.length) return fail('whoami', `Unexpected "${rest.slice(0, 60)}".`);
      return { ok: true, command: { verb: 'whoami' } };
  }
}

/** The usage as rows (the console's table, its suggestions): verb, synopsis, what it does. */
export function usageRows(): Array<{ verb: Verb; synopsis: string; text: string }> {
  return VERBS.map((verb) => ({ verb, ...USAGE[verb] }));
}
