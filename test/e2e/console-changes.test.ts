import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { getRun } from '../../src/core/runs/store.js';
import { tempDir } from '../helpers/tmp.js';

/** The web feed shows the change summary of a deploy waiting for approval, as the chat cards do. */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHA = { v1: '1'.repeat(40), v2: '2'.repeat(40) };
let t: TestApp;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let browser: Browser;
let cookie: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}`);
  mkdirSync('test-results', { recursive: true });
  github = await startFakeGitHub({ token: 'ghp_console' });
  github.addRepo('acme/web', { v1: SHA.v1, v2: SHA.v2 });
  for (const sha of Object.values(SHA)) github.setChecks(sha, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => setTimeout(() => github.addDeploymentStatus(d.id, 'success', 'https://production.acme.test'), 50);
  github.setCompare(SHA.v1, SHA.v2, [{ filename: 'migrations/9.sql', status: 'added', additions: 3, deletions: 0 }], [{ sha: 'c'.repeat(40), message: 'Add audit table', author: 'Ann Lee' }]);
  const config = join(tempDir('console'), 'autodevhub.yaml');
  writeFileSync(config, 'projects:\n  - key: web\n    repo: acme/web\n    environments:\n      production: { required_approvals: 1, prevent_self_approval: false }\n');
  t = await startTestApp({ GITHUB_TOKEN: 'ghp_console', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config });
  cookie = await t.signIn();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await github?.close();
});

async function command(text: string): Promise<string | undefined> {
  const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text, project: 'web' }) });
  return ((await res.json()) as { run: { ref: string } | null }).run?.ref;
}
const status = async (ref: string) => (await getRun(t.app.context().em, ref)).status;

describe('console feed', () => {
  it('shows what a waiting deploy changes: commits, authors, risk notes and who summarised', async () => {
    const first = (await command('deploy acme/web production v1'))!;
    await waitFor(async () => (await status(first)) === 'waiting_approval', 15_000, 'first waiting');
    await command(`approve ${first}`);
    await waitFor(async () => (await status(first)) === 'succeeded', 15_000, 'first deployed');

    const context = await browser.newContext();
    await context.addCookies([{ name: cookie.split('=')[0]!, value: cookie.split('=').slice(1).join('='), url: t.url }]);
    const page = await context.newPage();
    await page.goto(`${t.url}/`);
    await page.waitForSelector('.adh-conn[data-state="live"]');
    const second = (await command('deploy acme/web production v2'))!;
    const changes = page.locator(`[data-ref="${second}"] .adh-changes`);
    await changes.waitFor({ timeout: 15_000 });
    expect(await changes.locator('.adh-changes-head').textContent()).toBe('What changes: Brings 1 commit by Ann Lee · 1 file');
    expect(await changes.locator('.adh-commits li').allTextContents()).toEqual(['ccccccc Add audit table (Ann Lee)']);
    expect(await changes.locator('.adh-risks li').first().textContent()).toMatch(/^⚠ Database migrations.*: migrations\/9\.sql$/);
    expect(await changes.locator('.adh-changes-by').textContent()).toBe('Summary by the offline summariser');
    await page.screenshot({ path: 'test-results/console-changes.png' });
    await context.close();
  }, 60_000);
});
