import { describe, expect, it } from 'vitest';
import { runMessage, SECTION_TEXT_MAX, storyMessage } from '../../src/bots/slack/cards.js';
import type { StoryRecord } from '../../src/core/stories/service.js';
import type { RunSummary } from '../../src/core/runs/model.js';

const story = (gherkin: string): StoryRecord => ({
  id: 7, runId: 1, featureDescription: 'x', gherkin, confidenceScore: 0.8123, status: 'draft', provider: 'offline',
  model: 'autodevhub-offline-1', inputTokens: null, outputTokens: null, latencyMs: 1, cached: false, version: 1,
  parentId: null, acceptedBy: null, acceptedAt: null, metadata: {}, openQuestions: [], cacheReadTokens: null, cacheWriteTokens: null, costUsd: null,
});

function texts(blocks: unknown[]): string[] {
  return blocks.flatMap((b) => {
    const x = b as { text?: { text: string }; elements?: Array<{ text?: string | { text: string } }> };
    return [x.text?.text, ...(x.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : e.text?.text))].filter((t): t is string => Boolean(t));
  });
}

describe('Slack Block Kit rendering', () => {
  it('shows a run that needs a better description: what is missing and an example, escaped, not as an error', () => {
    const run = { ref: 'R-6', kind: 'story', status: 'needs_input', stage: 'done', progress: 100, input: { description: 'fix <it>' }, requestedBy: 'slack:U1', error: null, result: { needsInput: { reason: 'bare_verb', missing: '"fix <it>" says what to do but not to what.', example: 'As a user I want to save my cart so that I can buy later.' } } } as unknown as RunSummary;
    const all = texts(runMessage(run, 'http://x/runs/R-6').blocks).join('\n');
    expect(all).toContain(':pencil2: *R-6*');
    expect(all).toContain('*No story yet.* "fix &lt;it&gt;" says what to do but not to what.');
    expect(all).toContain('As a user I want to save my cart');
    expect(all).not.toContain(':warning:');
  });

  it('lists open questions under the Gherkin, escaped for mrkdwn', () => {
    const m = storyMessage({ ...story('Feature: Save carts\n  Scenario: a\n    Given b\n'), openQuestions: ['Who may <@U1> & <!channel> save?', 'Is there a limit?'] }, 'http://x/runs/R-1', 'R-1');
    const all = texts(m.blocks);
    const q = all.find((t) => t.startsWith('*Open questions*'))!;
    expect(q).toBe('*Open questions*\n• Who may &lt;@U1&gt; &amp; &lt;!channel&gt; save?\n• Is there a limit?');
    expect(all.indexOf(q)).toBeGreaterThan(all.findIndex((t) => t.includes('Feature: Save carts')));
  });

  it('shows a short story whole, with score, generator and the two buttons', () => {
    const m = storyMessage(story('Feature: Save carts\n  Scenario: a\n    Given b\n'), 'http://x/runs/R-1', 'R-1');
    const all = texts(m.blocks).join('\n');
    expect(all).toContain('Feature: Save carts');
    expect(all).toContain('*Confidence* 0.81');
    expect(all).toContain('offline generator');
    expect(JSON.stringify(m.blocks)).toContain('"action_id":"story_accept"');
    expect(JSON.stringify(m.blocks)).toContain('"action_id":"story_regenerate"');
  });

  it('cuts a long story at a line break, inside every Slack limit, and links to the full run', () => {
    const long = `Feature: Big\n${Array.from({ length: 400 }, (_, i) => `    Then step number ${i} holds & <is> fine`).join('\n')}\n`;
    const m = storyMessage(story(long), 'http://x/runs/R-9', 'R-9');
    for (const t of texts(m.blocks)) expect(t.length).toBeLessThanOrEqual(SECTION_TEXT_MAX);
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    expect(m.text.length).toBeLessThanOrEqual(3000);
    const all = texts(m.blocks).join('\n');
    expect(all).toContain('<http://x/runs/R-9|Read all of R-9>');
    expect(all).toContain('&lt;is&gt;');
    expect(all).toMatch(/holds &amp; &lt;is&gt; fine\n…\n```/);
  });

  it('renders the run message with its status and a link', () => {
    const run = { ref: 'R-5', kind: 'story', status: 'running', stage: 'validate', progress: 60, input: { description: 'save <carts>' }, result: {}, requestedBy: 'slack:U1', error: null } as unknown as RunSummary;
    const m = runMessage(run, 'http://x/runs/R-5');
    const all = texts(m.blocks).join('\n');
    expect(all).toContain('*R-5*');
    expect(all).toContain('(60%)');
    expect(all).toContain('save &lt;carts&gt;');
    expect(all).toContain('<@U1>');
    expect(all).toContain('*validate*');
  });
});
