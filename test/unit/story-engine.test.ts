import { describe, expect, it } from 'vitest';
import { generateOfflineGherkin } from '../../src/core/ai/offline.js';
import { checkGherkin, stripFences } from '../../src/core/ai/gherkin.js';
import { readNarrative } from '../../src/core/ai/narrative.js';
import { confidenceScore, normaliseDescription } from '../../src/core/ai/confidence.js';
import { pastParticiple } from '../../src/core/ai/english.js';

const IDEAS = [
  'As a shopper I want to save my cart so that I can buy later',
  'As an editor, I want to delete old drafts, so that the list stays short.',
  'Let admins export monthly reports to CSV',
  'Users should be able to reset their password',
  'dark mode',
  'As a support agent I need to search tickets by customer email in order to answer faster',
  'As a patient I want to book an appointment online so that I avoid phone queues',
  'As a developer I want to upload build artifacts so that QA can test them',
  'As a member I want to get notified by email when someone replies',
  'Feature: tricky | input # with "quotes" and\nnewlines\nScenario: injected',
  'Über-nutzer möchten Berichte exportieren',
];

describe('offline generator', () => {
  it.each(IDEAS)('writes valid Gherkin with three complete scenarios for: %s', (idea) => {
    const check = checkGherkin(generateOfflineGherkin(idea));
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.summary.scenarios).toHaveLength(3);
    for (const s of check.summary.scenarios) {
      const kinds = new Set(s.keywords.map((k) => k.toLowerCase()));
      expect([...kinds]).toEqual(expect.arrayContaining(['context', 'action', 'outcome']));
    }
  });

  it('reads role, goal and benefit out of the description', () => {
    expect(readNarrative('As a shopper I want to save my cart so that I can buy later')).toMatchObject({
      role: 'shopper', goal: 'save my cart', benefit: 'I can buy later', verb: 'save', object: 'my cart',
      stated: { role: true, goal: true, benefit: true },
    });
    expect(readNarrative('Let admins export monthly reports to CSV')).toMatchObject({ role: 'admin', verb: 'export', stated: { role: true, benefit: false } });
    expect(readNarrative('Users should be able to reset their password')).toMatchObject({ role: 'user', goal: 'reset my password' });
    expect(readNarrative('dark mode')).toMatchObject({ role: 'user', goal: 'use dark mode', stated: { role: false } });
  });

  it('derives the story from the idea, not from a fixed text', () => {
    const cart = generateOfflineGherkin(IDEAS[0]!);
    expect(cart).toContain('As a shopper');
    expect(cart).toContain('I want to save my cart');
    expect(cart).toContain('So that I can buy later');
    expect(cart).toContain('Then I see a confirmation that I have saved my cart');
    expect(cart).toMatch(/Scenario: My Cart is empty/);
    expect(generateOfflineGherkin(IDEAS[5]!)).toMatch(/Scenario: No results match/);
    expect(generateOfflineGherkin(IDEAS[6]!)).toMatch(/Scenario: The chosen time is no longer available/);
    expect(generateOfflineGherkin(IDEAS[7]!)).toMatch(/Scenario: File is too large/);
    expect(generateOfflineGherkin(IDEAS[2]!)).toMatch(/Scenario: There is no data for the period/);
    expect(new Set(IDEAS.map(generateOfflineGherkin)).size).toBe(IDEAS.length);
  });

  it('conjugates regular and irregular verbs', () => {
    expect(['save', 'buy', 'stop', 'try', 'export', 'send', 'upload'].map(pastParticiple)).toEqual(['saved', 'bought', 'stopped', 'tried', 'exported', 'sent', 'uploaded']);
  });
});

describe('Gherkin validation', () => {
  it('rejects text the official parser rejects, and documents without scenarios or steps', () => {
    expect(checkGherkin('Feature x\n').ok).toBe(false);
    expect(checkGherkin('Feature: x\n').ok).toBe(false);
    expect(checkGherkin('Feature: x\n  Scenario: y\n').ok).toBe(false);
    expect(checkGherkin('').ok).toBe(false);
  });
  it('strips a Markdown fence around the story', () => {
    expect(stripFences('Sure!\n```gherkin\nFeature: x\n```\nEnjoy')).toBe('Feature: x\n');
  });
});

describe('confidence score', () => {
  const summary = (n: number, complete = true) => ({
    featureName: 'x', description: '',
    scenarios: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, steps: 3, keywords: complete ? ['Context', 'Action', 'Outcome'] : ['Action'] })),
  });
  const full = readNarrative('As a shopper I want to save my cart so that I can buy later');

  it('follows the documented formula', () => {
    // 1.0 × (0.25·1 + 0.25·1 + 0.20·1 + 0.15·min(1, 13/12) + 0.15·1) = 1.00
    expect(confidenceScore({ summary: summary(3), narrative: full, descriptionWords: 13, repaired: false, provider: 'claude' })).toBe(1);
    // offline: 0.85 × 1.00
    expect(confidenceScore({ summary: summary(3), narrative: full, descriptionWords: 13, repaired: false, provider: 'offline' })).toBe(0.85);
    // repaired: 0.15·0.6 instead of 0.15 → 0.94
    expect(confidenceScore({ summary: summary(3), narrative: full, descriptionWords: 13, repaired: true, provider: 'claude' })).toBe(0.94);
  });

  it('falls with vaguer ideas and thinner stories', () => {
    const vague = readNarrative('dark mode');
    const a = confidenceScore({ summary: summary(3), narrative: full, descriptionWords: 13, repaired: false, provider: 'claude' });
    const b = confidenceScore({ summary: summary(3), narrative: vague, descriptionWords: 2, repaired: false, provider: 'claude' });
    const c = confidenceScore({ summary: summary(1, false), narrative: full, descriptionWords: 13, repaired: false, provider: 'claude' });
    expect(b).toBeLessThan(a);
    expect(c).toBeLessThan(a);
  });

  it('normalises near-identical descriptions to one cache key', () => {
    expect(normaliseDescription('As a Reader, I want to bookmark the articles!')).toBe(normaliseDescription('as reader i want to bookmark articles'));
    expect(normaliseDescription('save my cart')).not.toBe(normaliseDescription('delete my cart'));
  });
});
