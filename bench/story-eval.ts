import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkGherkin } from '../src/core/ai/gherkin.js';
import { confidenceScore } from '../src/core/ai/confidence.js';
import { assessDescription } from '../src/core/stories/assess.js';
import { isPhrasal } from '../src/core/ai/english.js';

/**
 * The labelled set of feature descriptions and how a generator's output is judged against it:
 * shared by `npm run bench -- stories` and the unit tests that hold the floors.
 */

export interface LabelledItem {
  id: string;
  class: 'good' | 'vague' | 'compound' | 'gibberish' | 'language' | 'hostile' | 'not_request';
  split: 'calibration' | 'holdout';
  grade: 0 | 1 | 2 | 3;
  text: string;
  expect: {
    refuse: false | 'gibberish' | 'no_action' | 'bare_verb' | 'vague' | 'language';
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

/* ---------------------------------------------------------------------------------------------
 * The quality figures of issue #28, the same for both sets and any provider: refusals by kind,
 * vague ideas caught, titles cut mid-phrase, AUROC of confidence (concrete against the rest),
 * parse rate, scenarios, specific error paths, cost and latency per story.
 * ------------------------------------------------------------------------------------------- */

export type Kind = 'concrete' | 'vague' | 'gibberish' | 'not_request' | 'other';

/** One description of either set, reduced to what the quality figures need. */
export interface QualityItem {
  id: string;
  kind: Kind;
  domain: string;
  text: string;
  titleWords?: string[];
}

export function loadHeldOut(): QualityItem[] {
  const file = fileURLToPath(new URL('../test/fixtures/stories/held-out.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { items: QualityItem[] }).items;
}

/** The tuning set in the same shape: good → concrete; refused vague or hostile text counts as not a request. */
export function tuningAsQuality(items: LabelledItem[] = loadLabelled()): QualityItem[] {
  return items.map((i) => ({
    id: i.id,
    kind: i.class === 'good' ? 'concrete' : i.class === 'vague' ? 'vague' : i.class === 'gibberish' ? 'gibberish' : i.class === 'not_request' || (i.class === 'hostile' && i.expect.refuse) ? 'not_request' : 'other',
    domain: 'tuning',
    text: i.text,
    ...(i.expect.titleWords && { titleWords: i.expect.titleWords }),
  }));
}

/** What a provider gave for one description, with its score, cost and latency. */
export interface Produced {
  gherkin: string;
  refusal: { reason: string; missing: string; example: string } | null;
  score: number;
  latencyMs: number;
  costUsd: number | null;
}

export interface Measured {
  item: QualityItem;
  produced: Produced;
  parsed: boolean;
  scenarios: number;
  title: string;
  cut: boolean;
  specificError: boolean;
  titleWordsHeld: boolean;
}

const TAIL_WORDS = new Set([...FUNCTION_WORDS, 'up', 'down', 'out', 'off', 'even', 'only', 'just', 'also', 'while', 'until', 'before', 'after', 'then', 'so', 'because', 'whether', 'about', 'between', 'through', 'than', 'every', 'each', 'any', 'some', 'no', 'not', 'can', 'should', 'will', 'is', 'are', 'be', 'this', 'these', 'those']);

/**
 * A title cut mid-phrase, judged without the generator's help: it ends on a word that needs
 * another after it ("up", "from", "even"), or on a bare "-ing" verb after a subordinator
 * ("while filling"), or runs past ten words.
 */
export function titleMidPhrase(title: string): boolean {
  const words = title.split(/\s+/).filter(Boolean).map((w) => w.toLowerCase().replace(/[^a-z0-9%-]/g, ''));
  if (words.length === 0 || words.length > 10) return true;
  const last = words.at(-1)!;
  // "Turn the heating off": the verb's own particle closes the phrase.
  if (TAIL_WORDS.has(last)) return !(words.length > 2 && isPhrasal(words[0]!, last));
  return words.length >= 2 && /^(while|when|before|after|by|without|from|for)$/.test(words.at(-2)!) && /ing$/.test(last) && !/^(loading|onboarding|billing|shipping|pricing|parking|booking|checking|saving|banking|training|meeting|setting|listing|ranking|rating|hosting)$/.test(last);
}

const GENERIC_ERROR = /required details missing or invalid|I see what is wrong and how to fix it|something went wrong|an error occurs/i;

export function measure(item: QualityItem, produced: Produced): Measured {
  const check = produced.refusal ? null : checkGherkin(produced.gherkin);
  const title = titleOf(produced.gherkin);
  const second = produced.gherkin.split(/^\s*Scenario(?: Outline)?:/m)[2] ?? '';
  const stem = (w: string) => w.toLowerCase().replace(/(e|ed|ing|s)$/, '');
  return {
    item,
    produced,
    parsed: Boolean(check?.ok),
    scenarios: check?.ok ? check.summary.scenarios.length : 0,
    title,
    cut: !produced.refusal && titleMidPhrase(title),
    specificError: Boolean(second.trim()) && !GENERIC_ERROR.test(second),
    titleWordsHeld: (item.titleWords ?? []).every((w) => stem(title).includes(stem(w)) || title.toLowerCase().includes(w.split(' ')[0]!.toLowerCase().slice(0, 4))),
  };
}

export interface QualityFigures {
  items: number;
  stories: number;
  refusedByKind: Record<Kind, [refused: number, total: number]>;
  /** Vague descriptions refused, or scored below every concrete story. */
  vagueCaught: number;
  vague: number;
  /** Gibberish and non-requests refused with something to do about it (what is missing and an example). */
  refusedWithGuidance: number;
  nonDescriptions: number;
  titlesCut: string[];
  parseRate: number;
  threeScenarios: number;
  specificErrors: number;
  titleWordsHeld: number;
  concreteWithTitleWords: number;
  auroc: number;
  lowestConcrete: number;
  highestVagueStory: number;
  meanLatencyMs: number;
  costPerStoryUsd: number | null;
}

export function qualityFigures(ms: Measured[]): QualityFigures {
  const stories = ms.filter((m) => !m.produced.refusal);
  const kinds: Kind[] = ['concrete', 'vague', 'gibberish', 'not_request', 'other'];
  const refusedByKind = Object.fromEntries(kinds.map((k) => [k, [ms.filter((m) => m.item.kind === k && m.produced.refusal).length, ms.filter((m) => m.item.kind === k).length]])) as QualityFigures['refusedByKind'];
  const concreteStories = stories.filter((m) => m.item.kind === 'concrete').map((m) => m.produced.score);
  const lowestConcrete = concreteStories.length ? Math.min(...concreteStories) : 1;
  const vague = ms.filter((m) => m.item.kind === 'vague');
  const nonDescriptions = ms.filter((m) => m.item.kind === 'gibberish' || m.item.kind === 'not_request');
  const concrete = ms.filter((m) => m.item.kind === 'concrete');
  const withWords = concrete.filter((m) => m.item.titleWords?.length && !m.produced.refusal);
  const costs = stories.map((m) => m.produced.costUsd).filter((c): c is number => c != null);
  return {
    items: ms.length,
    stories: stories.length,
    refusedByKind,
    vagueCaught: vague.filter((m) => m.produced.refusal || m.produced.score < lowestConcrete).length,
    vague: vague.length,
    refusedWithGuidance: nonDescriptions.filter((m) => m.produced.refusal && m.produced.refusal.missing.trim() && m.produced.refusal.example.trim()).length,
    nonDescriptions: nonDescriptions.length,
    titlesCut: stories.filter((m) => m.cut).map((m) => m.title),
    parseRate: stories.filter((m) => m.parsed).length / Math.max(1, stories.length),
    threeScenarios: stories.filter((m) => m.scenarios >= 3).length / Math.max(1, stories.length),
    specificErrors: stories.filter((m) => m.specificError).length / Math.max(1, stories.length),
    titleWordsHeld: withWords.filter((m) => m.titleWordsHeld).length,
    concreteWithTitleWords: withWords.length,
    auroc: auroc(concrete.map((m) => m.produced.score), ms.filter((m) => m.item.kind !== 'concrete').map((m) => m.produced.score)),
    lowestConcrete,
    highestVagueStory: Math.max(0, ...vague.filter((m) => !m.produced.refusal).map((m) => m.produced.score)),
    meanLatencyMs: ms.reduce((s, m) => s + m.produced.latencyMs, 0) / Math.max(1, ms.length),
    costPerStoryUsd: costs.length ? costs.reduce((s, c) => s + c, 0) / Math.max(1, stories.length) : null,
  };
}

/** The offline generator's output for one description, scored as the service scores it. */
export function offlineProduced(text: string, writer: (t: string) => { kind: 'story'; gherkin: string } | { kind: 'refusal'; refusal: Produced['refusal'] }): Produced {
  const started = performance.now();
  const r = writer(text);
  const latencyMs = performance.now() - started;
  const gherkin = r.kind === 'story' ? r.gherkin : '';
  const refusal = r.kind === 'refusal' ? r.refusal : null;
  return { gherkin, refusal, score: scoreOf(text, gherkin, refusal, 'offline', false), latencyMs, costUsd: null };
}

/** Confidence as the service computes it (core/stories/service.ts). */
export function scoreOf(text: string, gherkin: string, refusal: Produced['refusal'], provider: string, repaired: boolean): number {
  const check = refusal ? null : checkGherkin(gherkin);
  const a = assessDescription(text);
  return confidenceScore({ signals: a.language === 'en' ? a.signals : null, summary: check?.ok ? check.summary : null, repaired, provider });
}
