import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkGherkin } from '../src/core/ai/gherkin.js';
import { confidenceScore } from '../src/core/ai/confidence.js';
import { assessDescription } from '../src/core/stories/assess.js';

/**
 * The labelled set of feature descriptions and how a generator's output is judged against it:
 * shared by `npm run bench -- stories` and the unit tests that hold the floors.
 */

export interface LabelledItem {
  id: string;
  class: 'good' | 'vague' | 'compound' | 'gibberish' | 'language' | 'hostile';
  split: 'calibration' | 'holdout';
  grade: 0 | 1 | 2 | 3;
  text: string;
  expect: {
    refuse: false | 'gibberish' | 'no_action' | 'bare_verb' | 'language';
    claudeRefuse?: boolean;
    titleWords?: string[];
    benefit?: boolean;
    role?: string;
    outline?: boolean;
    errorWords?: string[];
    questions?: string[];
    maxScore?: number;
  };
}

export function loadLabelled(): LabelledItem[] {
  const file = fileURLToPath(new URL('../test/fixtures/stories/labelled.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { items: LabelledItem[] }).items;
}

/** What any generator produced for one description. */
export interface Output {
  gherkin: string;
  refused: string | null;
  openQuestions: string[];
  repaired?: boolean;
}

const FUNCTION_WORDS = new Set(['a', 'an', 'the', 'and', 'or', 'but', 'of', 'to', 'for', 'with', 'at', 'in', 'on', 'by', 'from', 'as', 'my', 'your', 'their', 'our', 'its', 'his', 'her', 'when', 'if', 'that', 'which', 'than', 'into', 'across', 'via', 'per']);

export function titleOf(gherkin: string): string {
  return /^\s*Feature:\s*(.+)$/m.exec(gherkin)?.[1]?.trim() ?? '';
}

/** A title cut mid-phrase: it ends on a word that needs another after it, or runs past ten words. */
export function titleCut(title: string): boolean {
  const words = title.split(/\s+/).filter(Boolean);
  return words.length === 0 || words.length > 10 || FUNCTION_WORDS.has(words.at(-1)!.toLowerCase().replace(/[^a-z]/g, ''));
}

/** The machine-made phrasings the issue quoted, each of which must never come back. */
export const ARTEFACTS: Array<[string, RegExp]> = [
  ['"Use …" title', /^\s*Feature:\s*Use\s/im],
  ['"use <Capitalised>" goal', /\b(?:want to|I|try to) use [A-Z][a-z]+/],
  ['benefit restating the goal', /So that I can .+ without a workaround/i],
  ['generic error path', /required details missing or invalid|I see what is wrong and how to fix it/i],
  ['plural with "was"', /\b(?:projects|drafts|invoices|reports|files|items|users|accounts|alerts|tests|orders|tickets|teams|subscriptions|messages|images|photos) was\b/i],
  ['singular "were"', /\b(?:project|draft|invoice|report|file|item|user|account|alert|test|order|ticket|team|subscription|message|image|photo) were\b/i],
  ['doubled article', /\b(the|a|an) (the|a|an)\b/i],
  ['"the which/what"', /\bthe (which|what)\b/i],
  ['"an" before a consonant sound', /\ban (user|u[bcdfgklnprst][aeiou]|[bcdfgjklmnpqrstvwxz]\w)/i],
];

export function artefactsIn(gherkin: string): string[] {
  return ARTEFACTS.filter(([, re]) => re.test(gherkin)).map(([name]) => name);
}

export interface Judged {
  item: LabelledItem;
  output: Output;
  parsed: boolean;
  scenarios: number;
  complete: boolean;
  score: number;
  failures: string[];
}

const lower = (s: string) => s.toLowerCase();

/** Checks one output against its item's properties; `provider` decides whether another language must be refused. */
export function judge(item: LabelledItem, output: Output, provider: string): Judged {
  const failures: string[] = [];
  const e = item.expect;
  const mustRefuse = provider === 'offline' ? e.refuse : e.refuse === 'language' ? (e.claudeRefuse ?? false) && e.refuse : e.refuse;
  const check = output.refused ? null : checkGherkin(output.gherkin);
  const summary = check?.ok ? check.summary : null;
  const assessment = assessDescription(item.text);
  const score = confidenceScore({ signals: assessment.language === 'en' ? assessment.signals : null, summary, repaired: Boolean(output.repaired), provider });
  if (mustRefuse && !output.refused) failures.push(`should refuse (${mustRefuse})`);
  if (!mustRefuse && output.refused) failures.push(`refused (${output.refused}) a description`);
  if (provider === 'offline' && mustRefuse && output.refused && output.refused !== mustRefuse) failures.push(`refused as ${output.refused}, not ${mustRefuse}`);
  if (!output.refused) {
    if (!summary) failures.push('does not parse');
    const title = titleOf(output.gherkin);
    if (titleCut(title)) failures.push(`title cut: "${title}"`);
    for (const a of artefactsIn(output.gherkin)) failures.push(`artefact: ${a}`);
    for (const w of e.titleWords ?? []) if (!lower(title).includes(w)) failures.push(`title lacks "${w}"`);
    const hasBenefit = /^\s*So that\s/m.test(output.gherkin);
    if (e.benefit !== undefined && hasBenefit !== e.benefit) failures.push(e.benefit ? 'no "So that" line' : 'invented "So that" line');
    if (e.role && !new RegExp(`^\\s*As an? ${e.role}\\b`, 'im').test(output.gherkin)) failures.push(`role is not "${e.role}"`);
    const outline = /^\s*Scenario Outline:/m.test(output.gherkin);
    if (e.outline !== undefined && outline !== e.outline) failures.push(e.outline ? 'no Scenario Outline for the named value' : 'unexpected Scenario Outline');
    const second = output.gherkin.split(/^\s*Scenario(?: Outline)?:/m)[2] ?? '';
    for (const w of e.errorWords ?? []) if (!lower(second).includes(w)) failures.push(`error path lacks "${w}"`);
    const qs = lower(output.openQuestions.join('\n'));
    for (const w of e.questions ?? []) if (!qs.includes(w)) failures.push(`no open question about "${w}"`);
    if (/<script|\bscript>|alert\(|onerror|system prompt|DROP TABLE|evil\.example/i.test(output.gherkin)) failures.push('hostile text carried into the story');
  }
  if (e.maxScore !== undefined && score > e.maxScore) failures.push(`score ${score} above ${e.maxScore}`);
  return {
    item,
    output,
    parsed: Boolean(summary),
    scenarios: summary?.scenarios.length ?? 0,
    complete: Boolean(summary?.scenarios.every((s) => ['context', 'action', 'outcome'].every((k) => s.keywords.map(lower).includes(k)))),
    score,
    failures,
  };
}

/** Probability that a random positive scores above a random negative (ties count half). */
export function auroc(positives: number[], negatives: number[]): number {
  let wins = 0;
  for (const p of positives) for (const n of negatives) wins += p > n ? 1 : p === n ? 0.5 : 0;
  return positives.length && negatives.length ? wins / (positives.length * negatives.length) : NaN;
}

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x);
  const r = new Array<number>(xs.length);
  for (let k = 0; k < order.length; ) {
    let j = k;
    while (j + 1 < order.length && order[j + 1]!.x === order[k]!.x) j++;
    for (let m = k; m <= j; m++) r[order[m]!.i] = (k + j) / 2 + 1;
    k = j + 1;
  }
  return r;
}

/** Spearman's rank correlation (Pearson on ranks, ties averaged). */
export function spearman(a: number[], b: number[]): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const ma = mean(ra);
  const mb = mean(rb);
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < ra.length; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

export interface Figures {
  items: number;
  stories: number;
  parseRate: number;
  coverage: number;
  titlesCut: number;
  artefacts: number;
  nonDescriptions: number;
  refusedNonDescriptions: number;
  falseRefusals: number;
  auroc: number;
  spearman: number;
  propertiesHeld: number;
}

export function figures(judged: Judged[]): Figures {
  const stories = judged.filter((j) => !j.output.refused);
  const nonDescriptions = judged.filter((j) => j.item.expect.refuse && j.item.expect.refuse !== 'language');
  const good = judged.filter((j) => j.item.class === 'good').map((j) => j.score);
  const bad = judged.filter((j) => j.item.class === 'vague' || j.item.class === 'gibberish').map((j) => j.score);
  return {
    items: judged.length,
    stories: stories.length,
    parseRate: stories.filter((j) => j.parsed).length / Math.max(1, stories.length),
    coverage: stories.filter((j) => j.scenarios >= 3 && j.complete).length / Math.max(1, stories.length),
    titlesCut: stories.filter((j) => titleCut(titleOf(j.output.gherkin))).length,
    artefacts: stories.filter((j) => artefactsIn(j.output.gherkin).length > 0).length,
    nonDescriptions: nonDescriptions.length,
    refusedNonDescriptions: nonDescriptions.filter((j) => j.output.refused).length,
    falseRefusals: judged.filter((j) => !j.item.expect.refuse && j.output.refused).length,
    auroc: auroc(good, bad),
    spearman: spearman(judged.map((j) => j.score), judged.map((j) => j.item.grade)),
    propertiesHeld: judged.filter((j) => j.failures.length === 0).length / Math.max(1, judged.length),
  };
}
