import type { ChangedFile } from '../github/client.js';
import type { ChangeSummary } from '../runs/model.js';

/**
 * What a deploy changes in its environment: the commits between what is deployed there and the
 * commit being deployed, their subjects and authors, the files by area, and risk notes. The facts
 * come from GitHub's compare API and are the same for every summariser; the summariser writes the
 * short prose on top (Claude, or the offline summariser, labelled).
 */

export interface CompareResult {
  commits: Array<{ sha: string; message: string; author: string }>;
  files: Array<Pick<ChangedFile, 'filename' | 'status'>>;
  totalCommits: number;
  url: string | null;
}

/** What any model is told when it writes the summary's prose (the same words for every provider). */
export const SUMMARY_INSTRUCTIONS =
  'You help an approver decide on a deployment. From the commits and changed files given, write at most three plain sentences: ' +
  'what the deploy changes for users or operators, and what deserves a careful look (migrations, dependencies, infrastructure, CI). ' +
  'State only what the facts show; no preamble, no Markdown, no lists.';

/** The facts, as the model reads them. */
export function summaryPrompt(facts: ChangeSummary): string {
  return [
    `Direction: ${facts.direction === 'rollback' ? 'rollback (these commits are taken out)' : 'forward'}; ${facts.commitCount} commit(s), ${facts.fileCount} file(s).`,
    'Commits:',
    ...facts.commits.map((c) => `- ${c.subject} (${c.author})`),
    'Files by area:',
    ...facts.areas.map((a) => `- ${a.area}: ${a.files} (${a.examples.join(', ')})`),
    ...(facts.risks.length ? ['Risk notes:', ...facts.risks.map((r) => `- ${r.kind}: ${r.files.join(', ')}`)] : []),
  ].join('\n');
}

export interface ChangeSummariser {
  /** "offline summariser", "Claude (model)" or "OpenAI-compatible (model)". */
  readonly label: string;
  summarise(facts: ChangeSummary): Promise<ChangeSummary>;
}

type Risk = 'migrations' | 'dependencies' | 'infrastructure' | 'ci';

const RISK_PATTERNS: Array<{ kind: Risk; re: RegExp; note: string }> = [
  { kind: 'migrations', re: /(^|\/)(migrations?|migrate|alembic|flyway|liquibase)\/|\.sql$/i, note: 'Database migrations: check they run on the live schema and can be rolled back' },
  {
    kind: 'dependencies',
    re: /(^|\/)(package(-lock)?\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|go\.(mod|sum)|Cargo\.(toml|lock)|requirements[\w.-]*\.txt|Pipfile(\.lock)?|poetry\.lock|pyproject\.toml|Gemfile(\.lock)?|composer\.(json|lock)|pom\.xml|build\.gradle(\.kts)?|gradle\.lockfile|mix\.(exs|lock))$/i,
    note: 'Dependency manifests: new or upgraded packages ship with this deploy',
  },
  {
    kind: 'infrastructure',
    re: /(^|\/)(Dockerfile[\w.-]*|docker-compose[\w.-]*\.ya?ml|[\w.-]+\.tf|[\w.-]+\.tfvars|Procfile|nginx\.conf|\.env[\w.-]*)$|(^|\/)(k8s|kubernetes|helm|charts|terraform|infra|deploy|ansible|config)\//i,
    note: 'Infrastructure or configuration: the way the service runs changes, not only its code',
  },
  { kind: 'ci', re: /^(\.github\/workflows\/|\.gitlab-ci\.yml$|\.circleci\/|Jenkinsfile$|\.buildkite\/|azure-pipelines\.ya?ml$|\.ci\/|\.travis\.yml$)/i, note: 'CI files: the checks that gated this commit were changed by it' },
];

/** The area a file belongs to: a risk kind, tests, docs, or its top-level folder (two levels under src/). */
export function areaOf(filename: string): string {
  const risk = RISK_PATTERNS.find((r) => r.re.test(filename));
  if (risk) return risk.kind;
  if (/(^|\/)(tests?|__tests__|spec)\/|\.(test|spec)\.\w+$/i.test(filename)) return 'tests';
  if (/(^|\/)docs?\/|\.mdx?$/i.test(filename)) return 'docs';
  const parts = filename.split('/');
  if (parts.length === 1) return '(root)';
  if ((parts[0] === 'src' || parts[0] === 'lib' || parts[0] === 'app' || parts[0] === 'packages') && parts.length > 2) return `${parts[0]}/${parts[1]}`;
  return parts[0]!;
}

/** The facts, before any prose. `base` null: nothing recorded in the environment yet. */
export function changeFacts(input: { base: string | null; head: string; direction: ChangeSummary['direction']; compare: CompareResult | null }): ChangeSummary {
  const commits = (input.compare?.commits ?? []).map((c) => ({ sha: c.sha, subject: c.message.split('\n')[0]!.slice(0, 200), author: c.author }));
  const files = input.compare?.files ?? [];
  const byArea = new Map<string, string[]>();
  for (const f of files) byArea.set(areaOf(f.filename), [...(byArea.get(areaOf(f.filename)) ?? []), f.filename]);
  const areas = [...byArea]
    .map(([area, list]) => ({ area, files: list.length, examples: list.slice(0, 3) }))
    .sort((a, b) => b.files - a.files || a.area.localeCompare(b.area));
  const risks = RISK_PATTERNS.flatMap((r) => {
    const hit = byArea.get(r.kind) ?? [];
    return hit.length ? [{ kind: r.kind, note: r.note, files: hit.slice(0, 10) }] : [];
  });
  return {
    baseSha: input.base,
    headSha: input.head,
    direction: input.direction,
    commitCount: input.compare?.totalCommits ?? commits.length,
    commits: commits.slice(-20).reverse(),
    authors: [...new Set(commits.map((c) => c.author))],
    fileCount: files.length,
    areas,
    risks,
    summary: null,
    generator: 'offline summariser',
    compareUrl: input.compare?.url ?? null,
  };
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The offline summariser: one or two plain sentences from the facts. */
export function offlineSummary(f: ChangeSummary): string {
  const short = (s: string | null) => (s ?? '').slice(0, 7);
  if (f.direction === 'first') return `Nothing has been deployed to this environment by AutoDevHub yet, so there is nothing to compare ${short(f.headSha)} with.`;
  if (f.direction === 'same') return `${short(f.headSha)} is already what this environment runs: no code changes.`;
  const verb = f.direction === 'rollback' ? 'takes out' : 'brings';
  const people = f.authors.length ? ` by ${list(f.authors.slice(0, 4))}${f.authors.length > 4 ? ` and ${f.authors.length - 4} more` : ''}` : '';
  const main = f.areas.slice(0, 2).map((a) => `${a.area} (${a.files} file${a.files === 1 ? '' : 's'})`);
  const where = main.length ? `, mostly in ${list(main)}` : '';
  const risky = f.risks.length ? ` It touches ${list(f.risks.map((r) => (r.kind === 'ci' ? 'CI files' : r.kind === 'infrastructure' ? 'infrastructure or config' : r.kind === 'dependencies' ? 'dependency manifests' : 'database migrations')))}.` : '';
  return `This deploy ${verb} ${f.commitCount} commit${f.commitCount === 1 ? '' : 's'}${people} across ${f.fileCount} file${f.fileCount === 1 ? '' : 's'}${where}.${risky}`;
}

export function createOfflineChangeSummariser(): ChangeSummariser {
  return {
    label: 'offline summariser',
    async summarise(facts) {
      return { ...facts, summary: offlineSummary(facts), generator: 'offline summariser' };
    },
  };
}
