import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, type TestApp } from '../helpers/app.js';
import { credentialOf, startFakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai-api.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';

const STORY = {
  feature: 'Saved carts',
  narrative: { as_a: 'shopper', i_want: 'to save my cart', so_that: 'I can buy later' },
  background: null,
  scenarios: [
    { name: 'Save a cart', type: 'scenario', steps: [{ keyword: 'Given', text: 'I have two items in my cart' }, { keyword: 'When', text: 'I save my cart' }, { keyword: 'Then', text: 'I see it under "Saved carts"' }], examples: null },
    { name: 'Save an empty cart', type: 'scenario', steps: [{ keyword: 'Given', text: 'my cart is empty' }, { keyword: 'When', text: 'I try to save it' }, { keyword: 'Then', text: 'I am told there is nothing to save' }], examples: null },
    {
      name: 'Saved carts per shopper',
      type: 'outline',
      steps: [{ keyword: 'Given', text: 'I have <saved> saved carts' }, { keyword: 'When', text: 'I save another' }, { keyword: 'Then', text: 'the save is <result>' }],
      examples: { columns: ['saved', 'result'], rows: [['9', 'accepted'], ['10', 'refused']] },
    },
  ],
  open_questions: ['How long is a saved cart kept?'],
};
const COMMAND = 'story As a shopper I want to save my cart so that I can buy later';

let t: TestApp | undefined;
let fake: Awaited<ReturnType<typeof startFakeOpenAI>> | undefined;

afterEach(async () => {
  await t?.stop();
  await fake?.close();
  t = undefined;
  fake = undefined;
});

async function start(fakeOpts: FakeOpenAIOptions, envOf: Record<string, string> | ((url: string) => Record<string, string>) = {}, logs?: string[]) {
  fake = await startFakeOpenAI(fakeOpts);
  const env = typeof envOf === 'function' ? envOf(fake.url) : envOf;
  const destination = logs && new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) });
  t = await startTestApp(
    { AI_PROVIDER: 'openai', OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_MODEL: 'llama3.1:8b', STORY_CACHE_TTL_SECONDS: '0', ...(logs && { LOG_LEVEL: 'info' }), ...env },
    destination ? { logDestination: destination } : {},
  );
  return t.signIn();
}

describe('OpenAI-compatible provider through the official SDK', () => {
  it('writes the story through json_schema output, marked as written by that model, and says so at start', async () => {
    const logs: string[] = [];
    const cookie = await start({ script: [{ json: { story: STORY, refusal: null }, promptTokens: 900, completionTokens: 420 }] }, {}, logs);
    const { run, story, events } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('succeeded');
    expect(checkGherkin(String(story!.gherkin)).ok).toBe(true);
    expect(story!.gherkin).toContain('Scenario Outline: Saved carts per shopper');
    expect(story).toMatchObject({ provider: 'openai', model: 'llama3.1:8b', inputTokens: 900, outputTokens: 420, costUsd: 0, openQuestions: STORY.open_questions });
    expect(story!.metadata.outputMode).toBe('json_schema');
    const done = events.at(-1) as { message: string; data?: Record<string, unknown> };
    expect(done.message).toContain('OpenAI-compatible (llama3.1:8b)');
    expect(done.data?.generator).toBe('llama3.1:8b');

    const req = fake!.bodies()[0]!;
    expect(req.model).toBe('llama3.1:8b');
    expect(req.response_format.type).toBe('json_schema');
    expect(req.response_format.json_schema.strict).toBe(true);
    const schema = req.response_format.json_schema.schema;
    expect(schema.required).toEqual(['story', 'refusal']);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties.story.anyOf[0].properties)).toEqual(['feature', 'narrative', 'background', 'scenarios', 'open_questions']);
    expect(req.messages[0].role).toBe('system');
    expect(req.messages.at(-1).content).toContain('<description>');
    expect(logs.some((l) => /AI provider: OpenAI-compatible, the OpenAI-compatible server at http:\/\/127\.0\.0\.1:\d+\/v1, model llama3\.1:8b \(no cost\)/.test(l))).toBe(true);
  });

  it('falls back to tool calling when the server rejects json_schema with 400, and keeps to it', async () => {
    const cookie = await start({ rejectJsonSchema: true, script: [{ tool: 'write_user_story', input: STORY }] });
    const { run, story } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('succeeded');
    expect(checkGherkin(String(story!.gherkin)).ok).toBe(true);
    expect(story!.metadata.outputMode).toBe('tools');
    const [first, second] = fake!.bodies();
    expect(first!.response_format.type).toBe('json_schema');
    expect(second!.response_format).toBeUndefined();
    expect(second!.tools.map((x: { function: { name: string } }) => x.function.name)).toEqual(['write_user_story', 'decline_description']);
    // The next story goes straight to tools: the server said once that it has no json_schema.
    const again = await consoleRun(t!, cookie, 'story As a shopper I want to share my cart so that a friend can buy it');
    expect(again.run.status).toBe('succeeded');
    expect(fake!.requests).toHaveLength(3);
    expect(fake!.bodies()[2]!.tools).toBeDefined();
  });

  it('reads plain JSON from a server with neither json_schema nor tools, repairing broken JSON once', async () => {
    const broken = `Sure! Here is the story: {"story": {"feature": "Saved carts", "narrative": {"as_a": "shopper",`;
    const cookie = await start({ rejectJsonSchema: true, rejectTools: true, script: [{ text: broken, promptTokens: 100, completionTokens: 50 }, { text: '```json\n' + JSON.stringify({ story: STORY, refusal: null }) + '\n```', promptTokens: 200, completionTokens: 400 }] });
    const { run, story } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('succeeded');
    expect(checkGherkin(String(story!.gherkin)).ok).toBe(true);
    expect(story!.metadata.outputMode).toBe('json');
    expect(story).toMatchObject({ inputTokens: 300, outputTokens: 450 });
    const bodies = fake!.bodies();
    expect(bodies).toHaveLength(4);
    const repair = bodies[3]!.messages as Array<{ role: string; content: string }>;
    expect(repair.slice(-3).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(repair.at(-2)!.content).toBe(broken);
    expect(repair.at(-1)!.content).toMatch(/not valid JSON/);
  });

  it('fails the run in words when the repaired answer still does not fit', async () => {
    const cookie = await start({ script: [{ json: { story: { ...STORY, scenarios: [] }, refusal: null } }] });
    const { run } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/did not fit the story schema, even after one repair \(json_schema output\): scenarios/);
    expect(fake!.calls).toBe(2);
  });

  it('ends the run as needs_input when the model declines the description or refuses', async () => {
    const decline = { story: null, refusal: { reason: 'bare_verb', missing: '"fix it" does not say what to fix.', example: 'As a shopper I want to save my cart so that I can buy later.' } };
    const cookie = await start({ script: [{ json: decline }, { refusal: 'I cannot help with that request.' }] });
    const first = await consoleRun(t!, cookie, 'story fix it');
    expect(first.run.status).toBe('needs_input');
    expect(first.story).toBeNull();
    expect(first.events.at(-1)!.message).toMatch(/does not say what to fix/);
    const second = await consoleRun(t!, cookie, 'story As a user I want to do something questionable with the data');
    expect(second.run.status).toBe('needs_input');
    expect(second.events.at(-1)!.message).toMatch(/would not write a story from this: I cannot help with that request/);
  });

  it('waits as Retry-After says on a 429 and then succeeds', async () => {
    const cookie = await start({ script: [{ status: 429, message: 'Rate limit reached', headers: { 'retry-after': '1' } }, { json: { story: STORY, refusal: null } }] });
    const { run, events } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('succeeded');
    // The SDK waited and retried inside one attempt of the job, not the job queue's backoff.
    expect(events.some((e) => /Attempt \d of \d failed/.test(e.message))).toBe(false);
    expect(fake!.requests).toHaveLength(2);
    expect(fake!.requests[1]!.at - fake!.requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('fails the run in words within OPENAI_TIMEOUT_MS when the server never answers', async () => {
    const cookie = await start({ script: [{ hang: true }] }, { OPENAI_TIMEOUT_MS: '1500' });
    const started = Date.now();
    const { run } = await consoleRun(t!, cookie, COMMAND);
    const elapsed = Date.now() - started;
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/OpenAI-compatible server at http:\/\/127\.0\.0\.1:\d+\/v1 did not answer within 1\.5 s \(OPENAI_TIMEOUT_MS\)/);
    expect(elapsed).toBeLessThan(1500 + 2500);
  });

  it('speaks Azure OpenAI: deployment URL, api-version, api-key header, and the cost of the priced model', async () => {
    const script = [{ json: { story: STORY, refusal: null }, promptTokens: 1000, cachedTokens: 400, completionTokens: 500 }];
    const cookie = await start({ apiKey: 'azure-key-123', script }, (url) => ({
      OPENAI_BASE_URL: '',
      AZURE_OPENAI_ENDPOINT: url,
      AZURE_OPENAI_API_KEY: 'azure-key-123',
      AZURE_OPENAI_DEPLOYMENT: 'story-writer',
      OPENAI_MODEL: 'gpt-4o-mini',
    }));
    const { run, story } = await consoleRun(t!, cookie, COMMAND);
    expect(run.status).toBe('succeeded');
    const req = fake!.requests[0]!;
    expect(req.path).toBe('/openai/deployments/story-writer/chat/completions?api-version=2024-10-21');
    expect(req.headers['api-key']).toBe('azure-key-123');
    expect(credentialOf(req)).toBe('azure-key-123');
    // 600 uncached and 400 cached prompt tokens, 500 completion tokens at $0.15 / $0.075 / $0.60 per million
    expect(story).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 600, cacheReadTokens: 400, outputTokens: 500 });
    expect(story!.costUsd).toBeCloseTo((600 * 0.15 + 400 * 0.075 + 500 * 0.6) / 1e6, 9);
  });
});
