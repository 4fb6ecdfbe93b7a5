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

const origin = (i: IssueInput) => `From AutoDevHub ${i.runRef} (story ${i.storyId}, version ${i.version}): ${i.runUrl}`;

export function markdownBody(i: IssueInput): string {
  const fence = i.gherkin.includes('```') ? '~~~~' : '```';
  return [
    i.description,
    '',
    '## Acceptance criteria',
    ...i.scenarios.map((s) => `- [ ] ${s}`),
    '',
    `${fence}gherkin`,
    i.gherkin.trimEnd(),
    fence,
    ...(i.openQuestions.length ? ['', '## Open questions', ...i.openQuestions.map((q) => `- ${q}`)] : []),
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
