import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeOpenAI, type OpenAIScript } from '../fakes/openai-api.js';
import { getRun } from '../../src/core/runs/store.js';
import { changeFacts } from '../../src/core/deploys/changes.js';
import { DOCS_INSTRUCTIONS } from '../../src/core/docs/writer.js';
import { SUMMARY_INSTRUCTIONS } from '../../src/core/deploys/changes.js';
import { tempDir } from '../helpers/tmp.js';

const GH_TOKEN = 'ghp_openai_docs';
const SECRET = 'webhook-secret-openai-docs';
const BASE = '1'.repeat(40);
const HEAD = '2'.repeat(40);
const ENTRY = '## 2026-12-07: 1111111...2222222\n\n### Changes\n\n- Shoppers can save their cart.\n\n### API\n\n- Added `saveCart`.';
const PATCH = '@@ -1,2 +1,3 @@\n+export async function saveCart(cart: Cart): Promise<void> {\n const x = 1;';

let t: TestApp | undefined;
let fake: Awaited<ReturnType<typeof startFakeOpenAI>> | undefined;
let github: Awaited<ReturnType<typeof startFakeGitHub>> | undefined;

afterEach(async () => {
  await t?.stop();
  await fake?.close();
  await github?.close();
  t = fake = github = undefined;
});

async function start(script: OpenAIScript, env: Record<string, string> = {}) {
  fake = await startFakeOpenAI({ apiKey: 'sk-openai-test', script });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: HEAD });
  github.setParent(HEAD, BASE);
  github.setFile('acme/web', 'main', 'docs/CHANGELOG.md', '# Changelog\n');
  github.setCompare(BASE, HEAD, [{ filename: 'src/cart.ts', status: 'modified', additions: 1, deletions: 0, changes: 1, patch: PATCH }], [{ sha: HEAD, message: 'Add saved carts' }]);
  const config = join(tempDir('openai-docs'), 'autodevhub.yaml');
  writeFileSync(config, 'projects:\n  - key: web\n    repo: acme/web\n    docs: { path: docs/, mode: pull_request }\n');
  t = await startTestApp({
    AI_PROVIDER: 'openai', OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: `${fake.url}/v1`, OPENAI_MODEL: 'gpt-4.1-mini',
    GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, GITHUB_WEBHOOK_SECRET: SECRET, AUTODEVHUB_CONFIG: config, ...env,
  });
}

async function push() {
  const payload = {
    ref: 'refs/heads/main', before: BASE, after: HEAD, deleted: false, created: false, forced: false,
    repository: { full_name: 'acme/web', name: 'web', default_branch: 'main', master_branch: 'main', owner: { login: 'acme' } },
    commits: [{ id: HEAD, message: 'Add saved carts' }], head_commit: { id: HEAD, message: 'Add saved carts' }, pusher: { name: 'ann' },
  };
  const body = JSON.stringify(payload);
  const res = await fetch(`${t!.url}/github/webhooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `d-${Date.now()}`, 'x-hub-signature-256': await sign(SECRET, body) },
    body,
  });
  expect(res.status).toBe(202);
  const ref = ((await res.json()) as { queued: string }).queued;
  return waitFor(async () => {
    const r = await getRun(t!.app.context().em, ref);
    return ['succeeded', 'failed'].includes(r.status) && r;
  }, 20_000, 'docs run');
}

const FACTS = changeFacts({
  base: BASE, head: HEAD, direction: 'forward',
  compare: { commits: [{ sha: HEAD, message: 'Add invoices', author: 'Ann' }], files: [{ filename: 'migrations/1.sql', status: 'added' }], totalCommits: 1, url: null },
});

describe('documentation updates and change summaries through the OpenAI-compatible provider', () => {
  it('writes the changelog entry of a docs run with the chosen model, given the same instructions and diff Claude gets', async () => {
    await start([{ text: ENTRY }]);
    const run = await push();
    expect(run.status).toBe('succeeded');
    const changelog = github!.commitsMade.at(-1)!.content;
    expect(changelog).toContain('- Shoppers can save their cart.');
    expect(changelog).toContain('_Written by OpenAI-compatible (gpt-4.1-mini) for');
    const req = fake!.bodies()[0]!;
    expect(req.model).toBe('gpt-4.1-mini');
    expect(req.messages[0]).toEqual({ role: 'system', content: DOCS_INSTRUCTIONS });
    expect(req.messages[1].content).toContain('Repository acme/web, range');
    expect(req.messages[1].content).toContain('+export async function saveCart');
    expect(fake!.requests[0]!.headers.authorization).toBe('Bearer sk-openai-test');
  });

  it('fails a docs run in words when the key is rejected', async () => {
    await start([{ text: ENTRY }], { OPENAI_API_KEY: 'sk-wrong' });
    const run = await push();
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/rejected the API key \(401\)\. Check OPENAI_API_KEY/);
  });

  it('summarises a deploy’s changes with the chosen model, and falls back to the offline summariser, saying so, when it fails', async () => {
    await start([{ text: 'Adds invoices. The migration adds a table; check it on a copy first.' }, { status: 503, message: 'overloaded' }], { OPENAI_MAX_RETRIES: '0' });
    const summariser = t!.app.context().changeSummariser;
    expect(summariser.label).toBe('OpenAI-compatible (gpt-4.1-mini)');
    const written = await summariser.summarise(FACTS);
    expect(written).toMatchObject({ generator: 'OpenAI-compatible (gpt-4.1-mini)', summary: 'Adds invoices. The migration adds a table; check it on a copy first.' });
    const req = fake!.bodies()[0]!;
    expect(req.messages[0]).toEqual({ role: 'system', content: SUMMARY_INSTRUCTIONS });
    expect(req.messages[1].content).toContain('- Add invoices (Ann)');
    expect(req.messages[1].content).toContain('- migrations: migrations/1.sql');

    const fallback = await summariser.summarise(FACTS);
    expect(fallback.generator).toBe('offline summariser (OpenAI-compatible (gpt-4.1-mini) unavailable)');
    expect(fallback.summary).toMatch(/^This deploy brings 1 commit by Ann/);
  });
});
