import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { requestStory } from '../../src/core/stories/service.js';
import { getRun } from '../../src/core/runs/store.js';
import { freePort } from '../helpers/ports.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-results';

let worker: TestApp;
let web: TestApp;
let page: Server;
let pageOrigin: string;
let browser: Browser;
let cookie: string;
let token: string;

/** A host page with aggressive CSS of its own, to show the widget is isolated both ways. */
function hostPage(widgetSrc: string, widgetToken: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Acme status</title>
<style>* { color: rgb(255, 0, 0) !important; font-family: serif !important; } li { display: inline !important; } body { margin: 8px; }</style>
</head><body><h1>Acme status</h1>
<div class="adh-run" id="host-lookalike">host element with a widget class name</div>
<script src="${widgetSrc}" data-project="web" data-token="${widgetToken}" async></script>
</body></html>`;
}


async function openWidget(tokenValue: string): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 900, height: 900 } });
  await p.goto(`${pageOrigin}/?token=${encodeURIComponent(tokenValue)}`);
  return p;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (CI installs it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  worker = await startTestApp({ AUTODEVHUB_ROLE: 'worker', AUTODEVHUB_CONFIG: writeProjectsConfig() });
  web = await startTestApp({ AUTODEVHUB_ROLE: 'web', PORT: String(await freePort()) }, {}, worker);
  cookie = await web.signIn();
  page = createServer((req, res) => {
    const t = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(hostPage(`${web.url}/widget.js`, t));
  });
  await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
  pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  const created = await fetch(`${web.url}/api/v1/widget-tokens`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ project: 'web', origins: [pageOrigin] }),
  });
  token = ((await created.json()) as { token: string }).token;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (page) await new Promise((r) => page.close(r));
  await web?.stop();
  await worker?.stop();
});

describe('the embeddable widget in Chromium', () => {
  it('shows a run live, survives a cut connection with each missed event exactly once, and stays isolated', async () => {
    const p = await openWidget(token);
    const status = p.locator('.autodevhub-widget .adh-conn');
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 15_000 }).toBe('live');

    // A story run appears with its stages and ends succeeded.
    const res = await fetch(`${web.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'story As a shopper I want to save my cart so that I can buy later', project: 'web' }),
    });
    const first = ((await res.json()) as { run: { ref: string } }).run;
    const card = p.locator(`.adh-run[data-ref="${first.ref}"]`);
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 20_000 }).toBe('succeeded');
    expect(await card.locator('.adh-stage').allTextContents()).toEqual(['queued', 'generate', 'validate', 'store', 'done']);
    expect(await card.locator('.adh-who').textContent()).toBe('asked by web:admin');
    expect(await card.locator('.adh-facts').textContent()).toContain('offline generator');

    // Isolation: the host's red text does not reach in; the widget's styles do not leak out.
    const inside = await card.locator('.adh-desc').evaluate((n) => getComputedStyle(n).color);
    expect(inside).not.toBe('rgb(255, 0, 0)');
    const lookalike = await p.locator('#host-lookalike').evaluate((n) => getComputedStyle(n).borderLeftWidth);
    expect(lookalike).toBe('0px');
    await p.screenshot({ path: `${ARTIFACTS}/widget.png`, fullPage: true });

    // Cut: the web process goes away; the worker goes on and finishes a run meanwhile.
    await web.app.close();
    await expect.poll(() => status.textContent(), { timeout: 15_000 }).toBe('Reconnecting…');
    const missed = await requestStory(
      { ctx: worker.app.context(), actor: { id: 'web:admin', platform: 'web' } },
      { description: 'As an admin I want to export audit logs so that auditors can review them', deliveryId: `e2e-${Date.now()}`, projectKey: 'web' },
    );
    const done = await waitFor(async () => {
      const r = await getRun(worker.app.context().em, missed.run.id);
      return r.status === 'succeeded' && r;
    }, 20_000, 'the missed run to finish');
    await p.screenshot({ path: `${ARTIFACTS}/widget-reconnecting.png`, fullPage: true });

    // Restore on the same port: the widget resumes and shows what it missed, none twice.
    await web.restart();
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 20_000 }).toBe('live');
    const missedCard = p.locator(`.adh-run[data-ref="${done.ref}"]`);
    await expect.poll(() => missedCard.getAttribute('data-status'), { timeout: 15_000 }).toBe('succeeded');
    expect(Number(await missedCard.getAttribute('data-seq'))).toBe(done.lastSeq);
    const feed = p.locator('.autodevhub-widget .adh-feed');
    expect(await feed.getAttribute('data-duplicates')).toBeNull();
    expect(await missedCard.locator('.adh-stage-done').count()).toBe(5);
    await p.screenshot({ path: `${ARTIFACTS}/widget-resumed.png`, fullPage: true });
    await p.close();
  });

  it('is usable at 320 px, follows a dark preference, and announces changes', async () => {
    const p = await openWidget(token);
    await p.setViewportSize({ width: 320, height: 800 });
    await p.emulateMedia({ colorScheme: 'dark' });
    const card = p.locator('.autodevhub-widget .adh-run').first();
    await card.waitFor({ timeout: 15_000 });
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const dark = await card.evaluate((n) => getComputedStyle(n).backgroundColor);
    await p.emulateMedia({ colorScheme: 'light' });
    const light = await card.evaluate((n) => getComputedStyle(n).backgroundColor);
    expect(dark).not.toBe(light);
    expect(await p.locator('.autodevhub-widget [role=status][aria-live=polite]').count()).toBe(1);
    await p.emulateMedia({ colorScheme: 'dark' });
    await p.screenshot({ path: `${ARTIFACTS}/widget-320-dark.png`, fullPage: true });
    await p.close();
  });

  it('shows a clear error for a wrong token', async () => {
    const p = await openWidget('not-a-valid-token');
    const status = p.locator('.autodevhub-widget .adh-conn');
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 15_000 }).toBe('error');
    expect(await status.textContent()).toBe('AutoDevHub cannot show this feed: the widget token is not valid. Ask whoever embedded it for a new widget token.');
    expect(await p.locator('.autodevhub-widget .adh-empty').isHidden()).toBe(true);
    await p.screenshot({ path: `${ARTIFACTS}/widget-bad-token.png` });
    await p.close();
  });
});
