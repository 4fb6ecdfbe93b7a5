import { createHash } from 'node:crypto';

/**
 * A story as an issue, in each tracker's own format: Markdown with a task list of acceptance
 * criteria for GitHub and Linear, Atlassian Document Format for Jira. Every issue carries a
 * marker naming the story version, so an issue made by an attempt whose answer was lost is found
 * again instead of made twice.
 */

export interface IssueInput {
  title: string;
  description: string;
  gherkin: string;
  scenarios: string[];
  openQuestions: string[];
  storyId: number;
  version: number;
  runRef: string;
  runUrl: string;
  labels: string[];
}

export function storyMarker(storyId: number): string {
  return `AutoDevHub-Story: ${storyId}`;
}

export function storyLabel(storyId: number): string {
  return `autodevhub-story-${storyId}`;
}

/**
 * The issue's id where a tracker lets the client choose it (Linear: a UUID): derived from this
 * installation's address and the story, so a retry looks the issue up by id, exactly, and no text
 * anyone writes into an issue can match it.
 */
export function issueKey(i: Pick<IssueInput, 'storyId' | 'runUrl'>): string {
  const h = createHash('sha256').update(`autodevhub:${new URL(i.runUrl).origin}:story:${i.storyId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const origin = (i: IssueInput) => `From AutoDevHub ${i.runRef} (story ${i.storyId}, version ${i.version}): ${i.runUrl}`;

const ZWSP = '\u200b';
const SAFE_SCHEME = /^(?:https?|mailto):/i;

/**
 * Story text (anyone who may write a story wrote it) as inert Markdown for GitHub and Linear:
 * no @mentions or team pings, no issue references (`fixes #1`, `acme/web#1`, `GH-1`), no images
 * (tracking pixels), no raw HTML (`<details>`, `<img>`), and no links but http(s) and mailto
 * (`javascript:` in Linear). The words stay readable; only what the tracker would act on is broken.
 */
export function inertMarkdown(text: string): string {
  return text
    .replace(/(^|[^\w`])@(?=[\w-])/g, `$1@${ZWSP}`)
    .replace(/#(?=\d)/g, `#${ZWSP}`)
    .replace(/\b(GH)-(?=\d)/gi, `$1-${ZWSP}`)
    .replace(/!\[/g, '\\![')
    .replace(/</g, '\\<')
    .replace(/\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?[^)\n]*\)/g, (link, label: string, href: string) => (SAFE_SCHEME.test(href) || !/^[a-z][a-z0-9+.-]*:/i.test(href) ? link : `${label} (link removed)`))
    .replace(/^(\s*)\[([^\]\n]+)\]:\s*(\S+)/gm, (ref, space: string, label: string, href: string) => (SAFE_SCHEME.test(href) ? ref : `${space}\\[${label}]: (link removed)`))
    .replace(/\b(javascript|vbscript|data):/gi, `$1${ZWSP}:`);
}

/** A code fence longer than any run of backticks in `code`, so the code cannot close it. */
function fenceFor(code: string): string {
  const longest = Math.max(2, ...[...code.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

export function markdownBody(i: IssueInput): string {
  const fence = fenceFor(i.gherkin);
  return [
    inertMarkdown(i.description),
    '',
    '## Acceptance criteria',
    ...i.scenarios.map((s) => `- [ ] ${inertMarkdown(s)}`),
    '',
    `${fence}gherkin`,
    i.gherkin.trimEnd(),
    fence,
    ...(i.openQuestions.length ? ['', '## Open questions', ...i.openQuestions.map((q) => `- ${inertMarkdown(q)}`)] : []),
    '',
    '---',
    origin(i),
    `<!-- ${storyMarker(i.storyId)} -->`,
    '',
  ].join('\n');
}

type Adf = Record<string, unknown>;
const text = (t: string, marks?: Adf[]): Adf => ({ type: 'text', text: t, ...(marks && { marks }) });
const paragraph = (...content: Adf[]): Adf => ({ type: 'paragraph', content });
const heading = (t: string): Adf => ({ type: 'heading', attrs: { level: 3 }, content: [text(t)] });
const bullets = (items: string[]): Adf => ({ type: 'bulletList', content: items.map((t) => ({ type: 'listItem', content: [paragraph(text(t))] })) });

/** Jira Cloud (REST v3) descriptions are Atlassian Document Format, not Markdown. */
export function adfBody(i: IssueInput): Adf {
  return {
    type: 'doc',
    version: 1,
    content: [
      paragraph(text(i.description)),
      heading('Acceptance criteria'),
      bullets(i.scenarios),
      { type: 'codeBlock', attrs: { language: 'gherkin' }, content: [text(i.gherkin.trimEnd())] },
      ...(i.openQuestions.length ? [heading('Open questions'), bullets(i.openQuestions)] : []),
      { type: 'rule' },
      paragraph(text(`From AutoDevHub ${i.runRef} (story ${i.storyId}, version ${i.version}): `), text(i.runUrl, [{ type: 'link', attrs: { href: i.runUrl } }])),
      paragraph(text(storyMarker(i.storyId))),
    ],
  };
}
