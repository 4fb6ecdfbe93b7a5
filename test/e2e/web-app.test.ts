import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';
import { pressSignIn, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { getRun } from '../../src/core/runs/store.js';
import { createSignInToken } from '../../src/core/access/sessions.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The web app in Chromium: every page's main path, approvals under four-eyes, filters and search,
 * a run page that follows its run live, 375 px without sideways scrolling, and axe-core finding
 * nothing serious or critical. Screenshots go to test-results/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHA = '3'.repeat(40);
let t: TestApp;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let browser: Browser;
let admin: string;
let bob: string;
let storyRef: string;

const PAGES = ['/dashboard', '/runs', '/stories', '/approvals', '/settings', '/'];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}`);
  mkdirSync('test-results', { recursive: true });
  github = await startFakeGitHub({ token: 'ghp_app' });
  github.addRepo('acme/web', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => setTimeout(() => github.addDeploymentStatus(d.id, 'success', 'https://production.acme.test'), 50);
  const config = join(tempDir('web-app'), 'autodevhub.yaml');
  writeFileSync(
    config,
    [
      'projects:',
      '  - key: web',
      '    repo: acme/web',
      '    roles: { maintainer: ["web:bob", "web:cara"] }',
      '    environments:',
      '      production: { required_approvals: 1, prevent_self_approval: true }',
      '      canary: { required_approvals: 2 }',
      '',
    ].join('\n'),
  );
  t = await startTestApp({ GITHUB_TOKEN: 'ghp_app', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config });
  admin = await t.signIn();
  bob = await signInAs('web:bob');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  storyRef = (await command(admin, 'story As a shopper I want to save my cart so that I can buy it later from any device'))!;
  await waitFor(async () => (await getRun(t.app.context().em, storyRef)).status === 'succeeded', 20_000, 'story written');
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
  await github?.close();
});

async function signInAs(subject: string): Promise<string> {
  const token = await createSignInToken(t.app.context().em, subject);
  const res = await pressSignIn(`${t.url}/auth/signin?token=${token}`);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function command(cookie: string, text: string): Promise<string | undefined> {
  const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text, project: 'web' }) });
  return ((await res.json()) as { run: { ref: string } | null }).run?.ref;
}
const status = async (ref: string) => (await getRun(t.app.context().em, ref)).status;

async function as(cookie: string, opts: { width?: number; dark?: boolean } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 1100, height: 800 }, colorScheme: opts.dark ? 'dark' : 'light' });
  await context.addCookies([{ name: cookie.split('=')[0]!, value: cookie.split('=').slice(1).join('='), url: t.url }]);
  return { context, page: await context.newPage() };
}

/** What sticks out past the viewport's right edge (the outermost few), for the failure message. */
function wideElements(page: Page): Promise<string> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('body *'))
      .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`)
      .join(', '),
  );
}

async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe('web app', () => {
  it('approves from the web under four-eyes: the requester is refused in words, another maintainer approves', async () => {
    const ref = (await command(admin, 'deploy acme/web production main'))!;
    await waitFor(async () => (await status(ref)) === 'waiting_approval', 15_000, 'waiting');

    const mine = await as(admin);
    await mine.page.goto(`${t.url}/approvals`);
    const card = mine.page.locator(`.approval[data-ref="${ref}"]`);
    await expect(card.locator('h2').textContent()).resolves.toContain(`${ref}: deploy acme/web to production`);
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.locator('.action-result.error').waitFor();
    expect(await card.locator('.action-result').textContent()).toBe(`You requested ${ref}; someone else must approve it.`);
    expect(await status(ref)).toBe('waiting_approval');
    await mine.page.screenshot({ path: 'test-results/app-approvals.png', fullPage: true });

    // Bob's run page follows the run as it deploys, without a reload.
    const theirs = await as(bob);
    await theirs.page.goto(`${t.url}/runs/${ref}`);
    await expect(theirs.page.locator('#run-outcome').textContent()).resolves.toContain('waiting for approval');
    const approvals = await as(bob);
    await approvals.page.goto(`${t.url}/approvals`);
    const bobCard = approvals.page.locator(`.approval[data-ref="${ref}"]`);
    await bobCard.getByRole('button', { name: 'Approve' }).click();
    await bobCard.locator('.action-result.ok').waitFor();
    expect(await bobCard.locator('.action-result').textContent()).toBe(`Approved: ${ref} goes ahead.`);
    await theirs.page.locator('#run-live[data-final="true"]').waitFor({ timeout: 20_000 });
    expect(await theirs.page.locator('#run-outcome').textContent()).toMatch(new RegExp(`^${ref} deployed 3333333 to production`));
    expect(await theirs.page.locator('.timeline h3').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^approval · (just now|\d+ min ago) \(.+ UTC\) · \d+ s$/)]));
    await theirs.page.screenshot({ path: 'test-results/app-run.png', fullPage: true });
    for (const s of [mine, theirs, approvals]) await s.context.close();
  }, 90_000);

  it('shows the dashboard: the week by kind and outcome, what is live where, and who deployed it', async () => {
    const { context, page } = await as(admin);
    await page.goto(`${t.url}/dashboard`);
    const row = (kind: string) => page.locator('.chart tbody tr', { has: page.locator(`th:text-is("${kind}")`) });
    expect(await row('story').locator('td.num').allTextContents()).toEqual(['1', '0', '0', '0']);
    expect(await row('deploy').locator('td.num').first().textContent()).toBe('1');
    // The chart draws what the numbers say: one full bar for each kind that ran.
    expect(await row('story').locator('.bar').evaluate((b) => b.getBoundingClientRect().width)).toBeGreaterThan(50);
    const live = page.locator('section[aria-labelledby="live"] tbody tr').first();
    expect(await live.textContent()).toMatch(/^production3333333\s*successweb:admin(just now|\d+ min ago) \(.+ UTC\)Open$/);
    await page.screenshot({ path: 'test-results/app-dashboard.png' });
    await context.close();
  });

  it('filters runs by kind and status, and says what to do when nothing matches', async () => {
    const { context, page } = await as(admin);
    await page.goto(`${t.url}/runs`);
    expect(await page.locator('table.runs tbody tr').count()).toBe(2);
    await page.selectOption('select[name="kind"]', 'story');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/kind=story/);
    expect(await page.locator('table.runs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-ref')))).toEqual([storyRef]);
    await page.goto(`${t.url}/runs?kind=story&status=failed`);
    expect(await page.locator('.empty').textContent()).toContain('No run matches these filters. Clear the filters');
    await page.goto(`${t.url}/runs`);
    await page.screenshot({ path: 'test-results/app-runs.png', fullPage: true });
    await context.close();
  });

  it('rejects from the web: the run ends without a deployment, and the card says so', async () => {
    const deployments = github.deployments.length;
    const ref = (await command(admin, 'deploy acme/web production main'))!;
    await waitFor(async () => (await status(ref)) === 'waiting_approval', 15_000, 'waiting');
    const { context, page } = await as(bob);
    await page.goto(`${t.url}/approvals`);
    const card = page.locator(`.approval[data-ref="${ref}"]`);
    await card.getByRole('button', { name: 'Reject' }).click();
    await card.locator('.action-result.ok').waitFor();
    expect(await card.locator('.action-result').textContent()).toBe(`Rejected: ${ref} will not deploy.`);
    await waitFor(async () => ['failed', 'cancelled', 'rejected'].includes(await status(ref)), 10_000, 'rejected run ends');
    await page.goto(`${t.url}/approvals`);
    expect(await page.locator(`.approval[data-ref="${ref}"]`).count()).toBe(0);
    expect(github.deployments.length).toBe(deployments);
    await context.close();
  });

  it('finds stories by search, shows versions side by side, downloads the .feature and accepts', async () => {
    const { context, page } = await as(admin);
    await page.goto(`${t.url}/stories?q=cart`);
    expect(await page.locator('.cards .card').count()).toBe(1);
    await page.goto(`${t.url}/stories?q=zebra`);
    expect(await page.locator('.empty').textContent()).toContain('No story matches');
    await page.goto(`${t.url}/stories`);
    await page.locator('.cards .card h2 a').first().click();
    await page.getByRole('button', { name: 'Regenerate' }).click();
    await page.locator('.action-result.ok a').waitFor();
    const newRef = (await page.locator('.action-result.ok a').textContent())!.replace(' Follow ', '');
    await waitFor(async () => (await status(newRef)) === 'succeeded', 20_000, 'second version');
    await page.goto(`${t.url}/stories?status=draft`);
    await page.locator('.cards .card h2 a').first().click();
    expect(await page.locator('.side-by-side figcaption').allTextContents()).toEqual(['Version 1 (previous)', 'Version 2 (this one)']);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Download .feature' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^story-\d+\.feature$/);
    const gherkin = (await page.locator('#gherkin-current').textContent())!;
    expect(gherkin).toMatch(/^Feature: /);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.locator('.action-result.ok', { hasText: 'Copied to the clipboard.' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(gherkin);
    await page.screenshot({ path: 'test-results/app-story.png', fullPage: true });
    // The page itself shows the new state (no reload by the test, no fixed wait): the badge
    // turns to accepted and the button goes.
    await page.getByRole('button', { name: 'Accept' }).click();
    await page.locator('.summary .badge', { hasText: 'accepted' }).waitFor();
    expect(await page.locator('.summary').textContent()).toMatch(/accepted by /);
    expect(await page.getByRole('button', { name: 'Accept' }).count()).toBe(0);
    await context.close();
  }, 60_000);

  it('shows settings to admins only, with what the config file said and who holds which role', async () => {
    const { context, page } = await as(admin);
    await page.goto(`${t.url}/settings`);
    // Light by the system's choice here; the ◐ button switches, and the choice stays.
    await page.locator('#theme').click();
    expect(await page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor])).toEqual(['dark', 'rgb(15, 20, 25)']);
    await page.reload();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.locator('#theme').click();
    expect(await page.locator('#h-roles + .scroll-x tbody tr').first().textContent()).toBe('web:bobwebmaintainerconfig file');
    expect(await page.locator('#h-projects + .scroll-x tbody td').allTextContents()).toEqual(['web', 'acme/web', 'production', '1, not the requester', 'developer', 'web', 'acme/web', 'canary', '2, not the requester', 'developer']);
    // Revoking a token from here acts through the same verb as the API.
    await fetch(`${t.url}/api/v1/tokens`, { method: 'POST', headers: { cookie: admin, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'CI deploys', scopes: ['read'] }) });
    await page.reload();
    const token = page.locator('#h-api-tokens + .scroll-x tbody tr', { hasText: 'CI deploys' });
    await token.getByRole('button', { name: 'Revoke the API token CI deploys' }).click();
    await page.locator('#h-api-tokens + .scroll-x tbody tr', { hasText: 'revoked' }).waitFor();
    expect(await token.locator('td').last().textContent()).toBe('revoked');
    await page.screenshot({ path: 'test-results/app-settings.png', fullPage: true });
    const other = await as(bob);
    const res = await other.page.goto(`${t.url}/settings`);
    expect(res!.status()).toBe(403);
    expect(await other.page.locator('.error-page').textContent()).toContain('Not allowed: only an admin');
    await other.context.close();
    await context.close();
  });

  it('shows a person with no role nothing of the project: no stories, no runs, and a refusal for a story by address', async () => {
    const carol = await as(await signInAs('web:carol'));
    await carol.page.goto(`${t.url}/stories`);
    expect(await carol.page.locator('.cards .card').count()).toBe(0);
    expect(await carol.page.locator('.empty').textContent()).toContain('No stories yet');
    await carol.page.goto(`${t.url}/runs`);
    expect(await carol.page.locator('table.runs').count()).toBe(0);
    const admins = await as(admin);
    await admins.page.goto(`${t.url}/stories`);
    const href = (await admins.page.locator('.cards .card h2 a').first().getAttribute('href'))!;
    const refused = await carol.page.goto(`${t.url}${href}`);
    expect(refused!.status()).toBe(403);
    expect(await carol.page.locator('.error-page').textContent()).toContain('Not allowed: to see runs and stories in web you need the viewer role');
    await carol.context.close();
    await admins.context.close();
  });

  it('counts characters against the limit on New command and shows the usage as a table', async () => {
    const { context, page } = await as(admin);
    await page.goto(`${t.url}/`);
    await page.fill('#text', `story ${'a'.repeat(4100)}`);
    expect(await page.locator('#counter').textContent()).toBe('4100 / 4000 characters for a story description: 100 too many, shorten it before sending');
    expect(await page.inputValue('#text')).toHaveLength(4106);
    expect(await page.locator('#usage tbody tr').count()).toBeGreaterThan(10);
    await page.fill('#text', 'help');
    expect(await page.locator('#counter').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.locator('#reply.usage').waitFor();
    expect(await page.locator('#reply').textContent()).toContain('See "help <verb>" for details.');
    expect(await page.locator('#reply').evaluate((r) => getComputedStyle(r).fontFamily)).toMatch(/mono/);
    await page.fill('#text', 'de');
    expect(await page.locator('#suggestions option').evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).label))).toEqual(['deploy [owner/repo] <environment> [ref] [--override "reason"]']);
    // The reply line links the run it queued and follows it to its end.
    await page.fill('#text', 'story As an editor I want to schedule posts so that they publish while I sleep');
    await page.getByRole('button', { name: 'Run' }).click();
    const link = page.locator('#reply a');
    await link.waitFor();
    const ref = (await link.textContent())!;
    expect(await link.getAttribute('href')).toBe(`/runs/${ref}`);
    await page.locator('#reply', { hasText: `${ref} succeeded` }).waitFor({ timeout: 20_000 });
    expect(await page.locator('#reply').textContent()).not.toContain('Follow it at');
    await page.screenshot({ path: 'test-results/app-new-command.png', fullPage: true });
    await context.close();
  });

  it('shows errors as pages in words, the sign-in error page included', async () => {
    const { context, page } = await as(admin);
    const missing = await page.goto(`${t.url}/runs/R-999999`);
    expect(missing!.status()).toBe(404);
    expect(await page.locator('.error-page').textContent()).toContain('There is no run R-999999');
    const signin = await page.goto(`${t.url}/auth/signin?token=nope`);
    expect(signin!.status()).toBe(401);
    expect(await page.locator('h1').textContent()).toBe('Please sign in');
    expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).not.toMatch(/Times/);
    await page.screenshot({ path: 'test-results/app-signin-error.png' });
    await context.close();
  });

  it('loads every page and its icon with no failed request', async () => {
    const { context, page } = await as(admin);
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    for (const path of ['/', '/dashboard', '/runs', '/stories', '/approvals', '/settings']) {
      await page.goto(`${t.url}${path}`);
      const icon = await page.locator('link[rel="icon"]').getAttribute('href');
      const res = await page.request.get(`${t.url}${icon}`);
      expect([path, res.status(), res.headers()['content-type']]).toEqual([path, 200, 'image/svg+xml; charset=utf-8']);
    }
    const ico = await fetch(`${t.url}/favicon.ico`);
    expect([ico.status, ico.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
    expect(await ico.text()).toMatch(/^<svg /);
    expect(failed).toEqual([]);
    await context.close();
  });

  it('shows a signed-out visitor only the way in: no menu, no Sign out, no single sign-on that is not set up', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/`);
    expect(await page.locator('#signin').isVisible()).toBe(true);
    for (const hidden of ['#main-nav', '#signout', '#sso', '.sso-only']) expect([hidden, await page.locator(hidden).isVisible()]).toEqual([hidden, false]);
    expect(await page.locator('#signin p').innerText()).toMatch(/^The console is private\. Open the one-time sign-in link AutoDevHub printed when it started\./);
    await context.close();
  });

  it('signs in from a one-time link with its button, in the app’s look', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const token = await createSignInToken(t.app.context().em, 'web:admin');
    const opened = await page.goto(`${t.url}/auth/signin?token=${token}`);
    expect(opened!.status()).toBe(200);
    expect(await context.cookies()).toEqual([]);
    expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).not.toMatch(/Times/);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.url}/`);
    expect((await context.cookies()).map((c) => c.name)).toEqual(['adh_session']);
    expect(await page.locator('body').getAttribute('class')).toContain('signed-in');
    await context.close();
  });

  it('filters runs by person and time, and stories by project and score', async () => {
    const another = (await command(admin, 'story As an editor I want to schedule posts so that they go out on time'))!;
    await waitFor(async () => (await status(another)) === 'succeeded', 20_000, 'another story');
    const { context, page } = await as(admin);
    const refs = () => page.locator('table.runs tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-ref')));
    await page.goto(`${t.url}/runs`);
    const all = await refs();
    expect(all.length).toBeGreaterThan(1);
    await page.goto(`${t.url}/runs?person=web:admin`);
    expect(await refs()).toEqual(all);
    await page.goto(`${t.url}/runs?person=web:bob`);
    expect(await page.locator('.empty').textContent()).toContain('No run matches these filters');
    // The story run, moved two days back, is outside the last 24 hours but inside the last 7 days.
    await t.app.context().em.getConnection().execute(`update workflow_runs set created_at = now() - interval '2 days' where number = ?`, [Number(storyRef.slice(2))]);
    await page.goto(`${t.url}/runs?since=24h`);
    expect(await refs()).not.toContain(storyRef);
    expect((await refs()).length).toBe(all.length - 1);
    await page.goto(`${t.url}/runs?since=7d`);
    expect(await refs()).toContain(storyRef);

    const cards = () => page.locator('.cards .card').count();
    await page.goto(`${t.url}/stories`);
    const scores = await page.locator('.cards .card').evaluateAll((cs) => cs.map((c) => Number(/score (\d\.\d+)/.exec(c.textContent ?? '')?.[1])));
    const inWeb = await page.locator('.cards .card', { hasText: '· web ·' }).count();
    expect(inWeb).toBeGreaterThan(0);
    await page.goto(`${t.url}/stories?project=web`);
    expect(await cards()).toBe(inWeb);
    const above = (min: number) => scores.filter((x) => x >= min).length;
    for (const min of ['0.5', '0.9']) {
      await page.goto(`${t.url}/stories?score=${min}`);
      expect(await cards(), `stories scoring at least ${min}`).toBe(above(Number(min)));
    }
    await context.close();
  });

  it('fits 375 px without sideways scrolling and has no serious or critical axe violations, light and dark', async () => {
    const storyId = await (async () => {
      const { context, page } = await as(admin);
      await page.goto(`${t.url}/stories`);
      const href = await page.locator('.cards .card h2 a').first().getAttribute('href');
      await context.close();
      return href!;
    })();
    for (const dark of [false, true]) {
      const { context, page } = await as(admin, { width: 375, dark });
      for (const path of [...PAGES, storyId, `/runs/${storyRef}`, '/nowhere']) {
        await page.goto(`${t.url}${path}`);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${path} overflows at 375 px: ${await wideElements(page)}`).toBe(0);
        expect(await seriousViolations(page), `${path} (${dark ? 'dark' : 'light'})`).toEqual([]);
        if (path === storyId) expect(await page.locator('.scroll-cue').first().isVisible(), 'wide Gherkin shows its cue').toBe(true);
        if (!dark) await page.screenshot({ path: `test-results/app-375${path.replaceAll('/', '-') || '-home'}.png`, fullPage: true });
      }
      await context.close();
    }
  }, 240_000);

  it('counts N of M from the web: the first of two approvals leaves the deploy waiting and says so, once per person; the second deploys', async () => {
    const cara = await signInAs('web:cara');
    const deployments = github.deployments.length;
    const ref = (await command(admin, 'deploy acme/web canary main'))!;
    await waitFor(async () => (await status(ref)) === 'waiting_approval', 15_000, 'waiting');
    const first = await as(bob);
    await first.page.goto(`${t.url}/approvals`);
    const card = () => first.page.locator(`.approval[data-ref="${ref}"]`);
    expect(await card().textContent()).toContain('0 of 2 approvals so far');
    await card().getByRole('button', { name: 'Approve' }).click();
    await card().locator('.action-result.ok').waitFor();
    expect(await card().locator('.action-result').textContent()).toBe(`Your approval is recorded; ${ref} needs more before it goes ahead.`);
    expect(await status(ref)).toBe('waiting_approval');
    // The count is on the card; the same person approving again does not count twice.
    await first.page.goto(`${t.url}/approvals`);
    expect(await card().textContent()).toContain('1 of 2 approvals so far');
    await card().getByRole('button', { name: 'Approve' }).click();
    await card().locator('.action-result.ok, .action-result.error').waitFor();
    expect(await card().locator('.action-result').textContent()).toBe(`You have already decided on ${ref}.`);
    expect(await status(ref)).toBe('waiting_approval');
    expect(github.deployments.length).toBe(deployments);

    const second = await as(cara);
    await second.page.goto(`${t.url}/approvals`);
    const caraCard = second.page.locator(`.approval[data-ref="${ref}"]`);
    await caraCard.getByRole('button', { name: 'Approve' }).click();
    await caraCard.locator('.action-result.ok').waitFor();
    expect(await caraCard.locator('.action-result').textContent()).toBe(`Approved: ${ref} goes ahead.`);
    await waitFor(async () => (await status(ref)) === 'succeeded', 20_000, 'the canary deploy');
    expect(github.deployments.filter((d) => d.payload.autodevhub_run === ref).map((d) => d.environment)).toEqual(['canary']);
    for (const s of [first, second]) await s.context.close();
  }, 90_000);

});
