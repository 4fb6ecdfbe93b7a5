import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The docs a reader follows: every relative link in README.md and docs/ leads to a file that
 * exists (and to a heading that exists, when it names one), and every `src/…` or `test/…` path the
 * docs name is in the tree. Derived from the files themselves, so a page moved or a file renamed
 * fails here, not in front of a newcomer.
 */

/** Folders the tree does not hold (build output, results): named in the docs, made by a command. */
const ignored = readFileSync('.gitignore', 'utf8').split('\n').filter((l) => l.endsWith('/')).map((l) => l.replace(/^\//, ''));

const pages = ['README.md', 'AGENTS.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

function linksOf(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

function namedPaths(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(/`((?:src|test|bench|migrations|scripts|manifests|monitoring|deploy)\/[^`\s]*)`/g)) {
    const path = m[1]!.replace(/[.,:;)]+$/, '').replace(/:\d+$/, '');
    // Patterns and placeholders name a kind of file, not one file.
    if (/[<>*{}…]|\.\.\./.test(path)) continue;
    if (ignored.some((dir) => path.startsWith(dir))) continue;
    out.add(path);
  }
  return [...out];
}

describe('docs: links and named paths', () => {
  it.each(pages)('every relative link in %s resolves', (page) => {
    const broken: string[] = [];
    for (const link of linksOf(page)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path ? normalize(join(dirname(page), decodeURIComponent(path))) : page;
      if (!existsSync(target)) {
        broken.push(`${link} (no ${target})`);
        continue;
      }
      if (anchor && target.endsWith('.md') && !anchorsOf(target).has(anchor)) broken.push(`${link} (no heading #${anchor} in ${target})`);
    }
    expect(broken).toEqual([]);
  });

  it.each(pages)('every src/ or test/ path named in %s exists', (page) => {
    expect(namedPaths(page).filter((p) => !existsSync(p))).toEqual([]);
  });

  it('README stays a front page: under 20 KB, with a link to each page in docs/', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(20 * 1024);
    const linked = new Set(linksOf('README.md').map((l) => l.split('#')[0]));
    const unlinked = readdirSync('docs').filter((f) => f.endsWith('.md') && !linked.has(`docs/${f}`));
    expect(unlinked).toEqual([]);
  });
});
