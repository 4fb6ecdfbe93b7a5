import { describe, expect, it } from 'vitest';
import { writeOfflineStory } from '../../src/core/ai/offline.js';
import { figures, judge, loadLabelled, type Judged } from '../../bench/story-eval.js';

/**
 * The labelled set (test/fixtures/stories/labelled.json) against the offline generator: every
 * property of every calibration item must hold, and the figures the README reports have floors.
 */
const items = loadLabelled();
const judged: Judged[] = items.map((item) => {
  const r = writeOfflineStory(item.text);
  return judge(item, r.kind === 'story' ? { gherkin: r.gherkin, refused: null, openQuestions: r.story.open_questions } : { gherkin: '', refused: r.refusal.reason, openQuestions: [] }, 'offline');
});

describe('labelled descriptions', () => {
  it('holds at least 60 items across every class', () => {
    expect(items.length).toBeGreaterThanOrEqual(60);
    expect(new Set(items.map((i) => i.class))).toEqual(new Set(['good', 'vague', 'compound', 'gibberish', 'language', 'hostile', 'not_request']));
  });

  it.each(judged.filter((j) => j.item.split === 'calibration').map((j) => [j.item.id, j] as const))('%s: every property holds', (_id, j) => {
    expect(j.failures).toEqual([]);
  });

  it('holds the floors: parse rate, coverage, no cut titles or artefacts, refusals, rank agreement', () => {
    const f = figures(judged);
    expect(f.parseRate).toBe(1);
    expect(f.coverage).toBe(1);
    expect(f.titlesCut).toBe(0);
    expect(f.artefacts).toBe(0);
    expect(f.refusedNonDescriptions).toBe(f.nonDescriptions);
    expect(f.falseRefusals).toBe(0);
    expect(f.auroc).toBeGreaterThanOrEqual(0.95);
    expect(f.spearman).toBeGreaterThanOrEqual(0.8);
    expect(figures(judged.filter((j) => j.item.split === 'holdout')).propertiesHeld).toBeGreaterThanOrEqual(0.9);
  });

  it('never scores hostile text high', () => {
    for (const j of judged.filter((x) => x.item.class === 'hostile')) expect(j.score).toBeLessThanOrEqual(0.55);
  });
});
