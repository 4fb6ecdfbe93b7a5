import { z } from 'zod';
import { article, isVerb, oneLine } from '../ai/english.js';

/**
 * A story as data: what both generators produce (the offline one directly, Claude through a tool
 * call with this schema), rendered to Gherkin in one place so that what is stored always parses
 * and user text can never break out of its line, cell or name.
 */

export const STEP_KEYWORDS = ['Given', 'When', 'Then', 'And', 'But'] as const;

const step = z.object({
  keyword: z.enum(STEP_KEYWORDS),
  text: z.string().min(1).max(400),
});

const scenario = z.object({
  name: z.string().min(1).max(200),
  type: z.enum(['scenario', 'outline']).default('scenario'),
  steps: z.array(step).min(1).max(20),
  examples: z
    .object({
      columns: z.array(z.string().min(1).max(60)).min(1).max(8),
      rows: z.array(z.array(z.string().max(120))).min(1).max(12),
    })
    .nullish(),
});

/** The tool input Claude fills in (snake_case, as JSON schema properties usually are). */
export const storySchema = z.object({
  feature: z.string().min(1).max(120).describe('Short title: a whole phrase ending on a noun, at most 8 words, no trailing preposition.'),
  narrative: z.object({
    as_a: z.string().min(1).max(80).describe('The role, without an article: "support agent".'),
    i_want: z.string().min(1).max(300).describe('The goal, starting with "to": "to export the monthly invoice list as CSV".'),
    so_that: z.string().max(300).nullish().describe('The benefit only if the description states or clearly implies it; otherwise null. Never restate the goal.'),
  }),
  background: z.array(step).max(6).nullish(),
  scenarios: z.array(scenario).min(1).max(8),
  open_questions: z.array(z.string().min(1).max(300)).max(6).default([]),
});

export type StoryInput = z.input<typeof storySchema>;
export type StructuredStory = z.output<typeof storySchema>;
export type StoryStep = z.output<typeof step>;
export type StoryScenario = z.output<typeof scenario>;

/** Claude's other tool: the description is not one a story can be written from. */
export const declineSchema = z.object({
  reason: z.enum(['gibberish', 'no_action', 'bare_verb', 'vague', 'not_a_feature', 'other']),
  missing: z.string().min(1).max(300).describe('What the description lacks, said to the person who wrote it.'),
  example: z.string().min(1).max(300).describe('A good description of the same idea, in the form "As a …, I want to … so that …".'),
});
export type Decline = z.output<typeof declineSchema>;

const cell = (s: string) => oneLine(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|');

function placeholders(steps: StoryStep[]): string[] {
  return [...new Set(steps.flatMap((s) => [...s.text.matchAll(/<([^<>]+)>/g)].map((m) => m[1]!)))];
}

/** Problems a parser would not catch but a reader would: an outline without examples, columns that do not match. */
export function storyProblems(story: StructuredStory): string[] {
  const problems: string[] = [];
  story.scenarios.forEach((s, i) => {
    const label = `scenario ${i + 1} ("${s.name}")`;
    if (!s.steps.some((st) => st.keyword === 'When' || st.keyword === 'Then')) problems.push(`${label} has no When or Then step`);
    if (s.type !== 'outline') return;
    if (!s.examples) return problems.push(`${label} is an outline without examples`);
    const cols = s.examples.columns.map((c) => c.trim());
    for (const p of placeholders(s.steps)) if (!cols.includes(p)) problems.push(`${label} uses <${p}> but its examples have no column "${p}"`);
    s.examples.rows.forEach((r, k) => {
      if (r.length !== cols.length) problems.push(`${label}: example row ${k + 1} has ${r.length} cells for ${cols.length} columns`);
    });
  });
  return problems;
}

function stepLines(steps: StoryStep[], indent: string): string[] {
  return steps.map((s, i) => {
    const keyword = i === 0 && (s.keyword === 'And' || s.keyword === 'But') ? 'Given' : s.keyword;
    return `${indent}${keyword} ${oneLine(s.text).replace(/^(Given|When|Then|And|But)\s+/i, '')}`;
  });
}

function goalLine(goal: string): string {
  const g = oneLine(goal).replace(/^i\s+want\s+/i, '');
  if (/^to\s/i.test(g)) return `I want ${g}`;
  const first = g.split(' ')[0] ?? '';
  return isVerb(first) ? `I want to ${g}` : `I want ${g}`;
}

export function renderGherkin(story: StructuredStory): string {
  const role = oneLine(story.narrative.as_a).replace(/^(an?|the)\s+/i, '');
  const lines = [`Feature: ${oneLine(story.feature) || 'User story'}`, `  As ${article(role)} ${role}`, `  ${goalLine(story.narrative.i_want)}`];
  const benefit = story.narrative.so_that ? oneLine(story.narrative.so_that).replace(/^so\s+that\s+/i, '') : '';
  if (benefit) lines.push(`  So that ${benefit}`);
  if (story.background?.length) lines.push('', '  Background:', ...stepLines(story.background, '    '));
  for (const s of story.scenarios) {
    const outline = s.type === 'outline' && s.examples;
    lines.push('', `  ${outline ? 'Scenario Outline' : 'Scenario'}: ${oneLine(s.name)}`, ...stepLines(s.steps, '    '));
    if (outline) {
      lines.push('', '    Examples:', `      | ${s.examples!.columns.map(cell).join(' | ')} |`);
      for (const r of s.examples!.rows) lines.push(`      | ${r.map(cell).join(' | ')} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
