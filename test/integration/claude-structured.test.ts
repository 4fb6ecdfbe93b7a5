import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, type TestApp } from '../helpers/app.js';
import { startFakeAnthropic, type AnthropicScript } from '../fakes/anthropic.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = 'sk-ant-test-key';
const STORY = {
  feature: 'Upload build artifacts',
  narrative: { as_a: 'developer', i_want: 'to upload build artifacts up to 500 MB', so_that: 'QA can test the exact build' },
  background: [{ keyword: 'Given', text: 'I am signed in as a developer' }],
  scenarios: [
    { name: 'Upload an artifact', type: 'scenario', steps: [{ keyword: 'When', text: 'I upload a 20 MB artifact' }, { keyword: 'Then', text: 'QA can download it from the build page' }] },
    { name: 'The artifact is too large', type: 'scenario', steps: [{ keyword: 'When', text: 'I upload a 600 MB artifact' }, { keyword: 'Then', text: 'I am told the limit is 500 MB' }] },
    {
      name: 'Around the size limit',
      type: 'outline',
      steps: [{ keyword: 'Given', text: 'an artifact of <size>' }, { keyword: 'When', text: 'I upload it' }, { keyword: 'Then', text: 'the upload is <result> | "quoted"' }],
      examples: { columns: ['size', 'result'], rows: [['499 MB', 'accepted'], ['500 MB', 'accepted'], ['501 MB', 'refused|with a pipe']] },
    },
  ],
  open_questions: ['Which artifact types are accepted?', 'How long are artifacts kept?'],
};

let t: TestApp | undefined;
let fake: Awaited<ReturnType<typeof startFakeAnthropic>> | undefined;

afterEach(async () => {
  await t?.stop();
  await fake?.close();
  t = undefined;
  fake = undefined;
});

async function start(script: AnthropicScript, env: Record<string, string> = {}) {
  fake = await startFakeAnthropic({ apiKey: KEY, script });
  t = await startTestApp({ ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_MODEL: 'claude-sonnet-5-5', STORY_CACHE_TTL_SECONDS: '0', ...env });
  return t.signIn();
}

const body = (i: number) => JSON.parse(fake!.requests[i]!.body) as Record<string, any>;

describe('Claude through tool use', () => {
  it('renders the story from the tool call, stores its open questions, tokens with cache, latency and cost', async () => {
    const cookie = await start([{ tool: 'write_user_story', input: STORY, inputTokens: 200, outputTokens: 400 }]);
    const first = await consoleRun(t!, cookie, 'story As a developer I want to upload build artifacts up to 500 MB so that QA can test the exact build');
    expect(first.run.status).toBe('succeeded');
    const check = checkGherkin(String(first.story!.gherkin));
    expect(check.ok).toBe(true);
    expect(first.story!.gherkin).toContain('Scenario Outline: Around the size limit');
    // A pipe in a cell is escaped, not a new column; one in a step is plain text.
    expect(first.story!.gherkin).toContain('| 501 MB | refused\\|with a pipe |');
    expect(first.story!.gherkin).toContain('Background:');
    expect(first.story).toMatchObject({ provider: 'claude', model: 'claude-sonnet-5-5', inputTokens: 200, outputTokens: 400, openQuestions: STORY.open_questions });
    expect(first.story!.cacheWriteTokens).toBeGreaterThan(500);
    expect(first.story!.cacheReadTokens).toBe(0);
    const write = first.story!.cacheWriteTokens as number;
    // $2 in, $10 out, $2.50 cache write per million tokens
    expect(first.story!.costUsd).toBeCloseTo((200 * 2 + 400 * 10 + write * 2.5) / 1e6, 6);

    const req = body(0);
    expect(req.tool_choice).toBeUndefined();
    expect(req.tools.map((x: { name: string }) => x.name)).toEqual(['write_user_story', 'decline_description']);
    expect(req.tools[0].input_schema.properties.scenarios.type).toBe('array');
    expect(req.system[0].cache_control).toEqual({ type: 'ephemeral' });
    expect(req.messages[0].content).toContain('<description>');

    const second = await consoleRun(t!, cookie, 'story As a developer I want to download build artifacts so that I can debug a release');
    expect(second.story!.cacheReadTokens).toBe(write);
    expect(second.story!.cacheWriteTokens).toBe(0);
  });

  it('sends one correction when the tool input does not fit the schema, as a tool_result with is_error', async () => {
    const broken = { ...STORY, scenarios: [{ ...STORY.scenarios[2], examples: { columns: ['size'], rows: [['1 MB']] } }] };
    const cookie = await start([{ tool: 'write_user_story', input: broken }, { tool: 'write_user_story', input: STORY }]);
    const { run, story } = await consoleRun(t!, cookie, 'story As a developer I want to upload build artifacts up to 500 MB');
    expect(run.status).toBe('succeeded');
    expect(fake!.calls).toBe(2);
    const fix = body(1).messages as Array<{ role: string; content: any }>;
    expect(fix.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(fix[1]!.content[0]).toMatchObject({ type: 'tool_use', name: 'write_user_story' });
    expect(fix[2]!.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: fix[1]!.content[0].id, is_error: true });
    expect(fix[2]!.content[0].content).toMatch(/no column "result"/);
    expect(story!.inputTokens).toBe(240);
  });

  it('ends the run as needs_input, with what is missing and an example, when Claude declines', async () => {
    const cookie = await start([{ tool: 'decline_description', input: { reason: 'bare_verb', missing: '"fix it" does not say what to fix.', example: 'As a shopper I want to save my cart so that I can buy later.' } }]);
    const { run, story, events } = await consoleRun(t!, cookie, 'story fix it');
    expect(run.status).toBe('needs_input');
    expect(run.error).toBeNull();
    expect(story).toBeNull();
    const last = events.at(-1) as { status: string; message: string; data?: any };
    expect(last.status).toBe('needs_input');
    expect(last.message).toMatch(/does not say what to fix/);
  });

  it('gives Claude the project glossary and its accepted stories, in a cached project block', async () => {
    const dir = tempDir('glossary');
    const config = join(dir, 'autodevhub.yaml');
    writeFileSync(config, ['projects:', '  - key: web', '    repo: acme/web', '    glossary:', '      seat: "a paid user in a workspace"', ''].join('\n'));
    const cookie = await start([{ tool: 'write_user_story', input: STORY }], { AUTODEVHUB_CONFIG: config });
    const first = await consoleRun(t!, cookie, 'story As an admin I want to add seats so that my team can join', 25_000, 'web');
    expect(first.run.status).toBe('succeeded');
    expect(body(0).system[1].text).toContain('seat: a paid user in a workspace');
    const db = new pg.Client({ connectionString: t!.databaseUrl });
    await db.connect();
    await db.query(`update user_stories set status = 'accepted', accepted_by = 'web:test', accepted_at = now()`);
    await db.end();
    await consoleRun(t!, cookie, 'story As an admin I want to remove seats so that we stop paying for them', 25_000, 'web');
    const project = body(1).system[1];
    expect(project.text).toContain('<accepted_story>');
    expect(project.text).toContain('add seats so that my team can join');
    expect(project.cache_control).toEqual({ type: 'ephemeral' });
  });
});
