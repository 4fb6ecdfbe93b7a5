import { afterEach, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, type TestApp } from '../helpers/app.js';
import { credentialOf, startFakeAnthropic, type AnthropicScript } from '../fakes/anthropic.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';

const KEY = 'sk-ant-test-key';
const VALID = `Feature: Saved carts
  As a shopper
  I want to save my cart
  So that I can buy later

  Scenario: Save a cart
    Given I have two items in my cart
    When I save my cart
    Then I see it under "Saved carts"

  Scenario: Save an empty cart
    Given my cart is empty
    When I try to save it
    Then I am told there is nothing to save

  Scenario: Saved cart price changed
    Given I saved my cart last week
    And a price changed since
    When I open the saved cart
    Then I see the new price highlighted
`;
const BROKEN = 'Here is your story!\nFeature Saved carts\n  Scenario: x\n';

let t: TestApp | undefined;
let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;

afterEach(async () => {
  await t?.stop();
  await fake?.close();
  t = undefined;
  fake = undefined;
});

async function runStory(script: AnthropicScript, key = KEY) {
  fake = await startFakeAnthropic({ apiKey: KEY, script });
  t = await startTestApp({ ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-test-model' });
  const detail = await consoleRun(t, await t.signIn(), 'story As a shopper I want to save my cart so that I can buy later');
  return detail;
}

describe('Claude provider through the Anthropic SDK', () => {
  it('stores a Claude story with its model, token counts and latency', async () => {
    const { run, story } = await runStory([{ text: '```gherkin\n' + VALID + '```', inputTokens: 111, outputTokens: 222 }]);
    expect(run.status).toBe('succeeded');
    expect(story).toMatchObject({ provider: 'claude', model: 'claude-test-model', inputTokens: 111, outputTokens: 222, cached: false });
    expect(checkGherkin(String(story!.gherkin)).ok).toBe(true);
    expect(Number(story!.latencyMs)).toBeGreaterThanOrEqual(0);
    expect(credentialOf(fake!.requests[0]!.headers)).toBe(KEY);
    expect(JSON.parse(fake!.requests[0]!.body).model).toBe('claude-test-model');
  });

  it('repairs output that is not valid Gherkin with one more request that carries the parser error', async () => {
    const { run, story, events } = await runStory([{ text: BROKEN }, { text: VALID }]);
    expect(run.status).toBe('succeeded');
    expect(fake!.calls).toBe(2);
    const repairRequest = JSON.parse(fake!.requests[1]!.body) as { messages: Array<{ role: string; content: string }> };
    expect(repairRequest.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(repairRequest.messages[2]!.content).toMatch(/parser rejected that/);
    expect(events.some((e) => e.stage === 'repair')).toBe(true);
    expect(story!.gherkin).toBe(VALID);
  });

  it('fails the run clearly when the repair does not parse either', async () => {
    const { run, story } = await runStory([{ text: BROKEN }, { text: BROKEN }]);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/not valid Gherkin, even after one repair/);
    expect(story).toBeNull();
    expect(fake!.calls).toBe(2);
  });

  it('retries with backoff when Claude is overloaded, then succeeds', async () => {
    const { run, events } = await runStory([{ status: 529, type: 'overloaded_error', message: 'Overloaded' }, { text: VALID }]);
    expect(run.status).toBe('succeeded');
    expect(events.some((e) => /Attempt 1 of 5 failed .*retrying/.test(e.message))).toBe(true);
  });

  it('fails at once, naming the variable, when the API key is rejected', async () => {
    const { run } = await runStory([{ text: VALID }], 'sk-ant-wrong');
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/ANTHROPIC_API_KEY/);
    // The fake refused the key before counting a scripted call; one request, no retries.
    expect(fake!.calls).toBe(0);
    expect(fake!.requests).toHaveLength(1);
  });
});
