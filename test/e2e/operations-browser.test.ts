import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { consoleRun, startTestApp, writeProjectsConfig, type TestApp } from '../helpers/app.js';

/**
 * What an operator sees in a browser: the console's audit section (search, export links,
 * verify) and the queue dashboard at /admin/queues, which loads nothing from elsewhere.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let t: TestApp;
let browser: Browser;
let cookie: string;

beforeAll(async () => {
  t = await startTestApp({ AUTODEVHUB_CONFIG: writeProjectsConfig() });
  cookie = await t.signIn();
  await consoleRun(t, cookie, 'story As a shopper I want to save my cart so that I can buy later', 25_000, 'web');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  if (!existsSync('test-results')) mkdirSync('test-results');
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function signedInPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const [name, value] = cookie.split('=') as [string, string];
  await context.addCookies([{ name, value, url: t.url }]);
  const page = await context.newPage();
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(t.url)) outside.push(r.url());
  });
  return { page, outside };
}

describe('operators in the browser', () => {
  it('search the audit log, get export links for the same filter, and verify the chain in the console', async () => {
    const { page } = await signedInPage();
    await page.goto(`${t.url}/`);
    await page.click('#audit summary');
    await page.waitForSelector('#audit-rows tbody tr');
    // Newest first: the last decision is the story; sign-ins are recorded too.
    const rows = await page.locator('#audit-rows tbody tr').allInnerTexts();
    expect(rows.some((r) => /^\d+\s+\S+ \S+\s+web:admin\s+story\.generated\s+story:\d+\s+web/.test(r))).toBe(true);
    await page.fill('#audit-action', 'deploy.*');
    await page.click('#audit-search button[type=submit]');
    await page.waitForFunction(() => document.querySelectorAll('#audit-rows tbody tr').length === 0);
    expect(await page.getAttribute('#audit-csv', 'href')).toBe('/api/v1/audit/export?format=csv&action=deploy.*');
    await page.click('#audit-verify');
    await page.waitForFunction(() => /Verified: \d+ rows/.test(document.getElementById("audit-verified")!.textContent ?? ""));
    await page.screenshot({ path: 'test-results/console-audit.png', fullPage: true });
  });

  it('shows the queues on /admin/queues with nothing loaded from elsewhere', async () => {
    const { page, outside } = await signedInPage();
    await page.goto(`${t.url}/admin/queues`);
    await page.waitForSelector('text=story', { timeout: 15_000 });
    await page.waitForFunction(() => !document.body.innerText.includes('Loading'), undefined, { timeout: 15_000 });
    for (const q of ['chat', 'deploy', 'docs']) expect(await page.locator(`text=${q}`).count(), q).toBeGreaterThan(0);
    await page.screenshot({ path: 'test-results/queue-board.png', fullPage: true });
    expect(outside).toEqual([]);
  });
});
