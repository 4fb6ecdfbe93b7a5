import { describe, expect, it } from 'vitest';
import { createOfflineProvider, SAME_AGAIN } from '../../src/core/ai/offline.js';

describe('regenerate with the offline generator', () => {
  it('says why the same story came back and what would give another, only when it is the same', async () => {
    const offline = createOfflineProvider();
    const first = await offline.generate('Snooze a noisy alert for 30 minutes');
    expect(first.openQuestions).not.toContain(SAME_AGAIN);
    const again = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: first.gherkin });
    expect(again.openQuestions?.[0]).toBe(SAME_AGAIN);
    expect(SAME_AGAIN).toMatch(/ANTHROPIC_API_KEY/);
    const other = await offline.generate('Snooze a noisy alert for 30 minutes', { previous: 'Feature: something else' });
    expect(other.openQuestions).not.toContain(SAME_AGAIN);
  });
});
