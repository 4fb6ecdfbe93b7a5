import { describe, expect, it } from 'vitest';
import { createOfflineProvider, SAME_AGAIN } from '../../src/core/ai/offline.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';

const names = (gherkin: string) => [...gherkin.matchAll(/^\s*Scenario(?: Outline)?:\s*(.+)$/gm)].map((m) => m[1]!);

describe('regenerate with the offline generator', () => {
  const offline = createOfflineProvider();

  it('gives a different version: a scenario the previous one left out', async () => {
    const first = await offline.generate('Snooze a noisy alert for 30 minutes');
    const second = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: first.gherkin });
    expect(second.gherkin).not.toBe(first.gherkin);
    const added = names(second.gherkin).filter((n) => !names(first.gherkin).includes(n));
    expect(added.length).toBe(1);
    expect(checkGherkin(second.gherkin).ok).toBe(true);
    expect(second.openQuestions).not.toContain(SAME_AGAIN);
  });

  it('says why it cannot do better, and what would, once nothing is left to add', async () => {
    const first = await offline.generate('Snooze a noisy alert for 30 minutes');
    const second = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: first.gherkin });
    const third = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: second.gherkin });
    expect(names(third.gherkin)).toEqual(expect.arrayContaining(names(second.gherkin)));
    expect(names(third.gherkin).length).toBe(names(second.gherkin).length + 1);
    const fourth = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: third.gherkin });
    expect(fourth.openQuestions?.[0]).toBe(SAME_AGAIN);
    expect(names(fourth.gherkin)).toEqual(names(third.gherkin));
    expect(SAME_AGAIN).toMatch(/ANTHROPIC_API_KEY/);
    expect(SAME_AGAIN).toMatch(/more specific/);
    const rule = await offline.generate('Passwords must have at least 12 characters');
    const again = await offline.generate('Passwords must have at least 12 characters', { previous: rule.gherkin });
    expect(again.openQuestions?.[0]).toBe(SAME_AGAIN);
  });

  it('writes the first version as before when nothing came earlier', async () => {
    const first = await offline.generate('Snooze a noisy alert for 30 minutes');
    expect(first.openQuestions).not.toContain(SAME_AGAIN);
  });
});
