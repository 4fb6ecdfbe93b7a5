import { describe, expect, it } from 'vitest';
import { writeOfflineStory } from '../../src/core/ai/offline.js';
import { loadHeldOut, measure, offlineProduced, qualityFigures } from '../../bench/story-eval.js';

/**
 * The held-out set (test/fixtures/stories/held-out.json) against the offline generator, with the
 * bars of issue #28. This set is measured only: if a bar fails, the engine is not tuned on these
 * items; the set is replaced by fresh ones after any change made from reading its failures.
 */
const write = (t: string) => {
  const r = writeOfflineStory(t);
  return r.kind === 'story' ? { kind: 'story' as const, gherkin: r.gherkin } : { kind: 'refusal' as const, refusal: r.refusal };
};
const items = loadHeldOut();
const measured = items.map((i) => measure(i, offlineProduced(i.text, write)));
const f = qualityFigures(measured);

describe('held-out descriptions (never tuned on)', () => {
  it('holds at least 60 items from at least 10 domains, of all four kinds', () => {
    expect(items.length).toBeGreaterThanOrEqual(60);
    expect(new Set(items.filter((i) => i.kind !== 'gibberish').map((i) => i.domain)).size).toBeGreaterThanOrEqual(10);
    expect(new Set(items.map((i) => i.kind))).toEqual(new Set(['concrete', 'vague', 'gibberish', 'not_request']));
  });

  it('refuses at most 1 in 20 concrete descriptions', () => {
    const [refused, total] = f.refusedByKind.concrete;
    expect(refused / total).toBeLessThanOrEqual(1 / 20);
  });

  it('refuses, or scores below every concrete story, at least 9 in 10 vague ones', () => {
    expect(f.vagueCaught / f.vague).toBeGreaterThanOrEqual(0.9);
  });

  it('refuses gibberish and non-requests with what is missing and an example', () => {
    expect(f.refusedWithGuidance).toBe(f.nonDescriptions);
  });

  it('ends no title mid-phrase; every story parses with at least 3 scenarios', () => {
    expect(f.titlesCut).toEqual([]);
    expect(f.parseRate).toBe(1);
    expect(f.threeScenarios).toBe(1);
  });

  it('ranks concrete descriptions above the rest by confidence: AUROC >= 0.95', () => {
    expect(f.auroc).toBeGreaterThanOrEqual(0.95);
  });
});
