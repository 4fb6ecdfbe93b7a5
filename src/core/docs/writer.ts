import type { ChangedFile } from '../github/client.js';
import type { Selection } from './select.js';

export interface DocsInput {
  repo: string;
  base: string;
  head: string;
  runRef: string;
  commits: Array<{ sha: string; message: string }>;
  selection: Selection;
}

export interface DocsOutput {
  /** A Markdown section for the changelog. */
  entry: string;
  title: string;
  generator: string;
}

/** Where documentation text comes from: Claude, an OpenAI-compatible API, or the offline writer. */
export interface DocsWriter {
  name: string;
  /** How the writer is shown to people: "offline generator", "Claude (model)". */
  label: string;
  write(input: DocsInput): Promise<DocsOutput>;
}

/** What any model is told when it writes a changelog entry (the same words for every provider). */
export const DOCS_INSTRUCTIONS =
  'You maintain a project changelog. From commits and a diff, write one Markdown changelog section: ' +
  'a "## <date>: <range>" heading, then "### Changes" (user-visible changes), "### API" (exported symbols added, removed or changed). ' +
  'Be factual: describe only what the diff shows. No preamble.';

/** The commits and the selected diff, as the model reads them. */
export function docsPrompt(input: DocsInput): string {
  const diff = input.selection.files.map((f) => `### ${f.filename} (${f.status})\n${f.patch ?? '(no textual diff)'}`).join('\n\n');
  return `Repository ${input.repo}, range ${input.base}...${input.head}.\nCommits:\n${input.commits.map((c) => `- ${c.message.split('\n')[0]}`).join('\n')}\n\nDiff:\n${diff}`;
}

export type SymbolChange = { name: string; kind: string; file: string; change: 'added' | 'removed' | 'changed' };

/** Declarations that make a module's public surface, per language. */
const EXPORT_PATTERNS: Array<{ re: RegExp; kind: (m: RegExpExecArray) => string }> = [
  { re: /^export\s+(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/, kind: () => 'function' },
  { re: /^export\s+(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/, kind: () => 'class' },
  { re: /^export\s+(?:declare\s+)?(const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)/, kind: (m) => m[1]! },
  { re: /^def\s+([A-Za-z]\w*)\s*\(/, kind: () => 'function' },
  { re: /^class\s+([A-Za-z]\w*)\s*[(:]/, kind: () => 'class' },
  { re: /^func\s+(?:\([^)]*\)\s*)?([A-Z]\w*)\s*\(/, kind: () => 'func' },
  { re: /^pub\s+(?:async\s+)?(fn|struct|enum|trait|type)\s+([A-Za-z_]\w*)/, kind: (m) => m[1]! },
];

function declaration(line: string): { name: string; kind: string; signature: string } | undefined {
  const text = line.trim();
  for (const { re, kind } of EXPORT_PATTERNS) {
    const m = re.exec(text);
    if (m) {
      const name = m.length > 2 && m[2] ? m[2] : m[1]!;
      if (name.startsWith('_')) return undefined;
      return { name, kind: kind(m), signature: text.replace(/\s*\{\s*$/, '').replace(/\s+/g, ' ') };
    }
  }
  return undefined;
}

/**
 * Public symbols added, removed or changed, read from the diff: a declaration only on "+" lines is
 * added, only on "-" lines removed, on both with another signature changed.
 */
export function symbolChanges(files: ChangedFile[]): SymbolChange[] {
  const changes: SymbolChange[] = [];
  for (const f of files) {
    const added = new Map<string, { kind: string; signature: string }>();
    const removed = new Map<string, { kind: string; signature: string }>();
    for (const line of (f.patch ?? '').split('\n')) {
      if (line.startsWith('+++') || line.startsWith('---')) continue;
      const sign = line[0];
      if (sign !== '+' && sign !== '-') continue;
      const d = declaration(line.slice(1));
      if (!d) continue;
      (sign === '+' ? added : removed).set(d.name, { kind: d.kind, signature: d.signature });
    }
    for (const [name, a] of added) {
      const r = removed.get(name);
      if (!r) changes.push({ name, kind: a.kind, file: f.filename, change: 'added' });
      else if (r.signature !== a.signature) changes.push({ name, kind: a.kind, file: f.filename, change: 'changed' });
    }
    for (const [name, r] of removed) if (!added.has(name)) changes.push({ name, kind: r.kind, file: f.filename, change: 'removed' });
  }
  return changes.sort((a, b) => a.file.localeCompare(b.file) || a.name.localeCompare(b.name));
}

/** The commit subjects, without AutoDevHub's own trailers and merge noise. */
function subjects(commits: DocsInput['commits']): string[] {
  return commits
    .map((c) => c.message.split('\n')[0]!.trim())
    .filter((s) => s && !/^Merge (pull request|branch)/.test(s));
}

const SKIP_LABEL = { docs: 'documentation itself', lockfile: 'lockfile', generated: 'generated or vendored', binary: 'binary', budget: 'over the size budget' } as const;

export function leftOutSection(selection: Selection): string[] {
  const budget = selection.skipped.filter((s) => s.reason === 'budget');
  const other = selection.skipped.filter((s) => s.reason !== 'budget');
  const lines: string[] = [];
  if (budget.length) {
    lines.push('', `**Left out:** the diff is larger than the ${selection.budgetChars.toLocaleString('en')}-character budget, so these files were not read:`);
    for (const s of budget) lines.push(`- \`${s.filename}\``);
  }
  if (other.length) {
    lines.push('', `Not documented (${other.length}): ${other.map((s) => `\`${s.filename}\` (${SKIP_LABEL[s.reason]})`).join(', ')}.`);
  }
  return lines;
}

/**
 * The offline writer: a factual changelog entry from the commits and the files, and an API
 * summary from the exported symbols in the diff. No model, no invention: it says what changed.
 */
export function createOfflineDocsWriter(): DocsWriter {
  return {
    name: 'offline',
    label: 'offline generator',
    async write(input) {
      const { files } = input.selection;
      const symbols = symbolChanges(files);
      const date = new Date().toISOString().slice(0, 10);
      const lines = [`## ${date}: ${input.base.slice(0, 7)}...${input.head.slice(0, 7)}`, ''];
      const subs = subjects(input.commits);
      if (subs.length) {
        lines.push('### Changes', '');
        for (const s of subs) lines.push(`- ${s}`);
        lines.push('');
      }
      lines.push('### Files', '');
      const byStatus = (st: string) => files.filter((f) => f.status === st);
      for (const [label, st] of [['Added', 'added'], ['Modified', 'modified'], ['Renamed', 'renamed'], ['Removed', 'removed']] as const) {
        const list = byStatus(st);
        if (list.length) lines.push(`- ${label}: ${list.map((f) => `\`${f.filename}\` (+${f.additions}/-${f.deletions})`).join(', ')}`);
      }
      if (!files.length) lines.push('- No source files changed.');
      lines.push('');
      lines.push('### API', '');
      if (symbols.length) {
        for (const change of ['added', 'changed', 'removed'] as const) {
          const list = symbols.filter((s) => s.change === change);
          if (list.length) lines.push(`- ${change[0]!.toUpperCase()}${change.slice(1)}: ${list.map((s) => `\`${s.name}\` (${s.kind}, \`${s.file}\`)`).join(', ')}`);
        }
      } else {
        lines.push('- No exported symbols added, removed or changed.');
      }
      lines.push(...leftOutSection(input.selection));
      lines.push('', `_Written by the AutoDevHub offline generator (no AI model) for ${input.runRef}._`, '');
      const headline = subs[0] ?? `${files.length} file(s) changed`;
      return { entry: lines.join('\n'), title: `Docs: ${headline}`.slice(0, 120), generator: 'offline generator' };
    },
  };
}
