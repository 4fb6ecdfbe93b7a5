import type { ChangedFile } from '../github/client.js';

/**
 * Which changed files the documentation is written from. Skipped: the docs folder itself (it is
 * the output), lockfiles, generated and vendored files, and binaries. What does not fit the AI
 * budget is left out and listed, so the pull request can say so.
 */

const LOCKFILES = new Set([
  'package-lock.json', 'npm-shrinkwrap.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'Cargo.lock', 'poetry.lock',
  'Pipfile.lock', 'Gemfile.lock', 'composer.lock', 'go.sum', 'mix.lock', 'pubspec.lock', 'packages.lock.json', 'uv.lock',
]);
const GENERATED = [/(^|\/)(dist|build|out|coverage|vendor|node_modules|target|\.next)\//, /\.min\.(js|css)$/, /\.map$/, /(^|\/)[^/]*\.generated\.[^/]+$/, /(^|\/)__generated__\//, /\.pb\.go$/, /_pb2\.py$/];
const BINARY = /\.(png|jpe?g|gif|webp|ico|svg|pdf|zip|gz|tgz|jar|woff2?|ttf|eot|mp[34]|mov|wasm|exe|dll|so|dylib|bin|lockb)$/i;

export type SkipReason = 'docs' | 'lockfile' | 'generated' | 'binary' | 'budget';

export interface Selection {
  files: ChangedFile[];
  skipped: Array<{ filename: string; reason: SkipReason }>;
  budgetChars: number;
  usedChars: number;
}

export function selectFiles(files: ChangedFile[], opts: { docsPath: string; budgetChars: number }): Selection {
  const docsPath = opts.docsPath.replace(/^\.?\//, '').replace(/\/?$/, '/');
  const skipped: Selection['skipped'] = [];
  const candidates: ChangedFile[] = [];
  for (const f of files) {
    const base = f.filename.split('/').pop() ?? f.filename;
    if (f.filename.startsWith(docsPath)) skipped.push({ filename: f.filename, reason: 'docs' });
    else if (LOCKFILES.has(base)) skipped.push({ filename: f.filename, reason: 'lockfile' });
    else if (GENERATED.some((re) => re.test(f.filename))) skipped.push({ filename: f.filename, reason: 'generated' });
    else if (BINARY.test(f.filename) || (f.patch === undefined && f.status !== 'removed' && f.additions + f.deletions === 0)) skipped.push({ filename: f.filename, reason: 'binary' });
    else candidates.push(f);
  }
  // Smaller diffs first, so the budget covers as many files as it can.
  candidates.sort((a, b) => (a.patch?.length ?? 0) - (b.patch?.length ?? 0));
  const selected: ChangedFile[] = [];
  let used = 0;
  for (const f of candidates) {
    const size = (f.patch?.length ?? 0) + f.filename.length;
    if (used + size > opts.budgetChars) {
      skipped.push({ filename: f.filename, reason: 'budget' });
      continue;
    }
    used += size;
    selected.push(f);
  }
  selected.sort((a, b) => a.filename.localeCompare(b.filename));
  return { files: selected, skipped, budgetChars: opts.budgetChars, usedChars: used };
}
