import { MAX_DESCRIPTION_LENGTH, VERBS, usageFor, type Verb } from '../../core/commands/grammar.js';

/**
 * The /autodevhub application command: one subcommand per verb of the grammar. Discord wants
 * required options first; `GRAMMAR_ORDER` puts them back in the order the text grammar reads.
 */
const STRING = 3;
const SUB_COMMAND = 1;

type Opt = { name: string; description: string; required?: boolean; max_length?: number; choices?: Array<{ name: string; value: string }> };

const OPTIONS: Record<Verb, Opt[]> = {
  help: [{ name: 'verb', description: 'The command to explain' }],
  story: [
    { name: 'description', description: 'The feature idea, e.g. As a shopper I want to save my cart', required: true, max_length: MAX_DESCRIPTION_LENGTH },
    {
      name: 'export',
      description: 'Also file it as an issue, open a pull request, or both',
      choices: [
        { name: 'issue', value: '--issue' },
        { name: 'pull request', value: '--pr' },
        { name: 'issue and pull request', value: '--issue --pr' },
      ],
    },
  ],
  docs: [
    { name: 'repo', description: 'owner/repo (default: this channel’s project)' },
    { name: 'range', description: 'base...head (default: since the last documentation update)' },
  ],
  deploy: [
    { name: 'environment', description: 'Environment, e.g. production', required: true },
    { name: 'repo', description: 'owner/repo (default: this channel’s project)' },
    { name: 'ref', description: 'Branch, tag or SHA (default: the default branch)' },
  ],
  promote: [{ name: 'run', description: 'The succeeded deploy to promote, e.g. R-1042', required: true }],
  rollback: [
    { name: 'environment', description: 'Environment, e.g. production', required: true },
    { name: 'project', description: 'Project key or owner/repo (default: this channel’s project)' },
  ],
  status: [{ name: 'run', description: 'A run, e.g. R-1042' }],
  approve: [
    { name: 'run', description: 'The run, e.g. R-1042', required: true },
    { name: 'reason', description: 'Why' },
  ],
  reject: [
    { name: 'run', description: 'The run, e.g. R-1042', required: true },
    { name: 'reason', description: 'Why' },
  ],
  cancel: [{ name: 'run', description: 'The run, e.g. R-1042', required: true }],
  link: [{ name: 'repo', description: 'owner/repo', required: true }],
  whoami: [],
  lock: [{ name: 'environment', description: 'Environment, e.g. production', required: true }, { name: 'repo', description: 'owner/repo (default: this channel’s project)' }, { name: 'reason', description: 'Why, e.g. debugging the cache' }, { name: 'for', description: 'How long, e.g. for 2h (default: until unlocked)' }],
  unlock: [{ name: 'environment', description: 'Environment, e.g. production', required: true }, { name: 'repo', description: 'owner/repo (default: this channel’s project)' }, { name: 'reason', description: "Why (needed to release another person's lock)" }],
  locks: [{ name: 'repo', description: 'owner/repo (default: every project you can see)' }],
  freezes: [{ name: 'repo', description: 'owner/repo (default: this channel’s project)' }, { name: 'environment', description: 'Environment, e.g. production' }],
  queue: [{ name: 'environment', description: 'Environment, e.g. production', required: true }, { name: 'repo', description: 'owner/repo (default: this channel’s project)' }],
};

export const GRAMMAR_ORDER: Record<Verb, string[]> = {
  help: ['verb'],
  story: ['description', 'export'],
  docs: ['repo', 'range'],
  deploy: ['repo', 'environment', 'ref'],
  promote: ['run'],
  rollback: ['environment', 'project'],
  status: ['run'],
  approve: ['run', 'reason'],
  reject: ['run', 'reason'],
  cancel: ['run'],
  link: ['repo'],
  whoami: [],
  lock: ['repo', 'environment', 'reason', 'for'],
  unlock: ['repo', 'environment', 'reason'],
  locks: ['repo'],
  freezes: ['repo', 'environment'],
  queue: ['repo', 'environment'],
};

/** The JSON that `npm run discord:register` sends (PUT /applications/{id}/commands). */
export function applicationCommands() {
  return [
    {
      name: 'autodevhub',
      description: 'User stories, documentation and deployments',
      type: 1,
      options: VERBS.map((verb) => ({
        type: SUB_COMMAND,
        name: verb,
        description: usageFor(verb).split('\n')[1]!.slice(0, 100),
        options: OPTIONS[verb].map((o) => ({ type: STRING, name: o.name, description: o.description.slice(0, 100), required: Boolean(o.required), ...(o.max_length && { max_length: o.max_length }), ...(o.choices && { choices: o.choices }) })),
      })),
    },
  ];
}
