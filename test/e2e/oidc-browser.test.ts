import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import Provider from 'oidc-provider';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';

/**
 * Single sign-on for real: a real OpenID Connect provider (oidc-provider, with its development
 * login and consent pages) on this machine, AutoDevHub configured with its issuer, client id and
 * secret, and Chromium clicking through. Then sessions end on the server: signing out, and an
 * admin's "sign out everywhere".
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-results';
let idp: Server;
let t: TestApp;
let browser: Browser;
let adminCookie: string;


function config(): string {
  const file = join(tempDir('oidc'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `people:
  alice: { identities: ["email:alice@acme.test", "slack:U0ALICE"] }
groups:
  platform: { members: [], sso: ["platform-team"] }
projects:
  - key: web
    repo: acme/web
    roles: { developer: [alice] }
  - key: api
    repo: acme/api
    roles: { viewer: ["group:platform"] }
`,
  );
  return file;
}

async function signInWithSso(page: Page, login: string) {
  await page.goto(`${t.url}/`);
  await page.getByRole('link', { name: 'Sign in with Acme SSO' }).click();
  // The provider's own pages: login and consent, unless it still has a session of its own.
  const loginForm = page.locator('input[name=login]');
  await Promise.race([loginForm.waitFor(), page.waitForSelector('body.signed-in')]);
  if (await loginForm.isVisible()) {
    await loginForm.fill(login);
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();
    const consent = page.getByRole('button', { name: 'Continue' });
    if (await consent.isVisible({ timeout: 3000 }).catch(() => false)) await consent.click();
  }
  await page.waitForURL(`${t.url}/`);
  await page.waitForSelector('body.signed-in');
}

const me = (page: Page) => page.evaluate(async () => {
  const res = await fetch('/api/v1/me');
  return { status: res.status, body: await res.json() };
});

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (CI installs it)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const [appPort, idpPort] = [await freePort(), await freePort()];
  const issuer = `http://127.0.0.1:${idpPort}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'autodevhub', client_secret: 'idp-client-secret', redirect_uris: [`http://127.0.0.1:${appPort}/auth/oidc/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@acme.test`, email_verified: true, name: id.charAt(0).toUpperCase() + id.slice(1), groups: id === 'alice' ? ['platform-team'] : [] };
        },
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    cookies: { keys: ['oidc-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((r) => idp.listen(idpPort, '127.0.0.1', r));
  t = await startTestApp({
    PORT: String(appPort),
    PUBLIC_URL: `http://127.0.0.1:${appPort}`,
    AUTODEVHUB_CONFIG: config(),
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: 'autodevhub',
    OIDC_CLIENT_SECRET: 'idp-client-secret',
    OIDC_SCOPES: 'openid email profile groups',
    OIDC_LABEL: 'Acme SSO',
  });
  adminCookie = await t.signIn();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.stop();
  if (idp) await new Promise((r) => idp.close(r));
});

describe('single sign-on through an OpenID Connect provider, in Chromium', () => {
  it('signs a person in, joins their verified email to the person in autodevhub.yaml, and gives them its roles and groups', async () => {
    const page = await (await browser.newContext()).newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    await signInWithSso(page, 'alice');
    expect(await page.locator('#me').textContent()).toBe('Alice');
    const who = await me(page);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ id: 'sso:alice', via: 'session', admin: false, roles: { web: 'developer', api: 'viewer' }, groups: ['platform'] });
    expect(who.body.identities.sort()).toEqual(['email:alice@acme.test', 'slack:U0ALICE', 'sso:alice']);

    // The console works under its Content-Security-Policy: a story from the command box, live in the feed.
    await page.locator('#project').selectOption('web');
    await page.locator('#text').fill('story As a developer I want to rerun a failed build so that I do not wait for a push');
    await page.locator('#command button[type=submit]').click();
    // The reply line follows the run, so "Queued R-…" may already read "R-… succeeded": wait for the link to the run (or an error).
    await page.locator('#reply a[href^="/runs/R-"], #reply.error').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('#reply').getAttribute('class')).not.toContain('error');
    expect(await page.locator('#reply').textContent()).toMatch(/^(Queued )?R-\d+/);
    await page.locator('[data-status="succeeded"]').first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: `${ARTIFACTS}/oidc-console.png`, fullPage: true });
    expect(violations).toEqual([]);
    await page.context().close();
  }, 60_000);

  it('ends sessions on the server: sign-out, and an admin’s “sign out everywhere”', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInWithSso(page, 'bob');
    const cookie = (await context.cookies()).find((c) => c.name === 'adh_session')!;
    const asBob = { cookie: `adh_session=${cookie.value}` };
    expect((await fetch(`${t.url}/api/v1/me`, { headers: asBob })).status).toBe(200);

    const people = (await (await fetch(`${t.url}/api/v1/people`, { headers: { cookie: adminCookie } })).json()) as { people: Array<{ id: number; identities: string[] }> };
    const bob = people.people.find((p) => p.identities.includes('sso:bob'))!;
    const ended = await fetch(`${t.url}/api/v1/people/${bob.id}/sign-out-everywhere`, { method: 'POST', headers: { cookie: adminCookie, origin: t.url } });
    expect(await ended.json()).toEqual({ sessionsEnded: 1 });
    expect((await me(page)).status).toBe(401);
    expect((await fetch(`${t.url}/api/v1/me`, { headers: asBob })).status).toBe(401);

    // Again, then the Sign out button: the copy of the cookie held elsewhere is worthless at once.
    await signInWithSso(page, 'bob');
    const again = (await context.cookies()).find((c) => c.name === 'adh_session')!;
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForLoadState('load');
    await page.waitForSelector('body.anonymous');
    expect((await fetch(`${t.url}/api/v1/me`, { headers: { cookie: `adh_session=${again.value}` } })).status).toBe(401);
    await context.close();
  }, 60_000);

  it('refuses a callback that was not started here (forged or replayed state)', async () => {
    const res = await fetch(`${t.url}/auth/oidc/callback?code=stolen&state=guessed`, { redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toMatch(/not started here/);
    await waitFor(() => true, 10, 'nothing');
  });
});
