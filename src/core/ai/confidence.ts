import type { GherkinSummary } from './gherkin.js';
import type { Signals } from '../stories/assess.js';

/**
 * Confidence, 0..1: how ready the story is to refine with the team. It rests mostly on what the
 * description gave (a story cannot be surer than its description), then on what was produced:
 *
 *   description = 0.35·action + 0.15·role + 0.15·benefit + 0.20·detail + 0.15·words
 *   story       = 0.4·coverage + 0.4·steps + 0.2·parse
 *   confidence  = W × (0.8·description + 0.2·story) − vague − compound, then capped
 *
 *   action    1 an action on something concrete, 0.5 on something vague, 0 none
 *   role      the description names who asks; benefit: it says why
 *   detail    concrete nouns, adjectives and values beyond the verb, / 6, at most 1
 *   words     share of real words (not made-up strings), / 0.9, at most 1
 *   coverage  scenarios / 3, at most 1; steps: share with Given, When and Then; parse 1, or 0.6 after a repair
 *   vague     0.12 per vague word ("better", "improve", "stuff"), at most 0.36; compound 0.15
 *   W         1.0 for Claude, 0.9 for the offline generator (templates, no domain knowledge)
 *   caps      0.55 when the description carried markup or text addressed to a model;
 *             0.3 for a refused description (no story)
 *
 * Calibrated on test/fixtures/stories/labelled.json; `npm run bench -- stories` reports how the
 * score ranks the labelled descriptions. Read it as: 0.8 and above, ready to refine with the
 * team; 0.5 to 0.8, usable once the open questions are answered; below 0.5, rewrite the description.
 */
export interface ConfidenceInput {
  /** What the description gave; null when it could not be read here (another language). */
  signals: Signals | null;
  /** The parsed story; null for a refusal. */
  summary: GherkinSummary | null;
  repaired: boolean;
  provider: string;
}

const round = (x: number) => Math.round(Math.max(0, Math.min(1, x)) * 100) / 100;

export function descriptionScore(s: Signals | null): number {
  if (!s) return 0.5;
  const words = Math.min(1, s.known / 0.9);
  return 0.35 * s.action + 0.15 * Number(s.role) + 0.15 * Number(s.benefit) + 0.2 * s.detail + 0.15 * words;
}

export function storyScore(summary: GherkinSummary | null, repaired: boolean): number {
  if (!summary) return 0;
  const scenarios = summary.scenarios;
  const coverage = Math.min(1, scenarios.length / 3);
  const complete = scenarios.filter((sc) => {
    const k = new Set(sc.keywords.map((x) => x.toLowerCase()));
    return k.has('context') && k.has('action') && k.has('outcome');
  }).length;
  const steps = scenarios.length ? complete / scenarios.length : 0;
  return 0.4 * coverage + 0.4 * steps + 0.2 * (repaired ? 0.6 : 1);
}

export function confidenceScore(input: ConfidenceInput): number {
  const s = input.signals;
  const weight = input.provider === 'offline' ? 0.9 : 1;
  let score = weight * (0.8 * descriptionScore(s) + 0.2 * storyScore(input.summary, input.repaired));
  if (s) score -= Math.min(0.36, 0.12 * s.vague.length) + (s.compound ? 0.15 : 0);
  if (s && (s.markup || s.injection)) score = Math.min(score, 0.55);
  if (!input.summary) score = Math.min(score, 0.3);
  return round(score);
}

/** Near-identical descriptions share a cache entry: case, punctuation, articles and spacing do not count. */
export function normaliseDescription(description: string): string {
  return description
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
