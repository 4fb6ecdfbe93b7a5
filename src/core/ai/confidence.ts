import type { GherkinSummary } from './gherkin.js';
import type { Narrative } from './narrative.js';

/**
 * Confidence score, 0..1, from what was produced, not what a model says of itself:
 *
 *   confidence = W_provider × (0.25·narrative + 0.25·coverage + 0.20·steps + 0.15·detail + 0.15·parse)
 *
 *   narrative  share of role, goal and benefit the description stated (not inferred), of 3
 *   coverage   scenarios / 3, capped at 1 (happy path, error path, edge case)
 *   steps      share of scenarios with a Given (context), a When (action) and a Then (outcome)
 *   detail     words in the description / 12, capped at 1 (a two-word idea leaves more to guess)
 *   parse      1 if the first output parsed, 0.6 if it needed the repair attempt
 *   W_provider 1.0 for Claude, 0.85 for the offline generator (template phrasing, no domain knowledge)
 *
 * Rounded to two decimals. Documented in the README.
 */
export interface ConfidenceInput {
  summary: GherkinSummary;
  narrative: Narrative;
  descriptionWords: number;
  repaired: boolean;
  provider: string;
}

export function confidenceScore(input: ConfidenceInput): number {
  const { stated } = input.narrative;
  const narrative = (Number(stated.role) + Number(stated.goal) + Number(stated.benefit)) / 3;
  const scenarios = input.summary.scenarios;
  const coverage = Math.min(1, scenarios.length / 3);
  const complete = scenarios.filter((s) => {
    const k = new Set(s.keywords.map((x) => x.toLowerCase()));
    return k.has('context') && k.has('action') && k.has('outcome');
  }).length;
  const steps = scenarios.length ? complete / scenarios.length : 0;
  const detail = Math.min(1, input.descriptionWords / 12);
  const parse = input.repaired ? 0.6 : 1;
  const weight = input.provider === 'offline' ? 0.85 : 1;
  const score = weight * (0.25 * narrative + 0.25 * coverage + 0.2 * steps + 0.15 * detail + 0.15 * parse);
  return Math.round(score * 100) / 100;
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
