import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFeed, pressSignIn, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { createSignInToken } from '../../src/core/access/sessions.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * What probing the service showed before roles existed, each now a test that holds: deploys and
 * links by anyone from anywhere, other projects' runs readable by anyone, no rate limit, a cookie
 * that works from a foreign origin and outlives sign-out, and an API only a browser could use.
 */

const APP_ID = '990000000000000020';
const SHA = 'a'.repeat(40);
const keys = discordKeys();
let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let cookie: string;
let n = 0;

function config(): string {
  const file = join(tempDir('probes'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `admins: ["slack:U0ADMIN"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB", "discord:112233"]
    roles: { developer: ["slack:U0DEV"] }
    environments:
      staging: { required_approvals: 0 }
  - key: api
    repo: acme/api
    channels: ["slack:C0API"]
    environments:
      staging: { required_approvals: 0 }
`,
  );
  return file;
}

async function slash(text: string, user: string, channel: string) {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: user, channel_id: channel, trigger_id: `p-${++n}-${Math.random()}` }));
  return (await res.json()) as { text: string; response_type: string };
}

/** Another console session: a fresh one-time link, opened. */
async function signInAgain(app: TestApp): Promise<string> {
  const token = await createSignInToken(app.app.context().em, 'web:admin');
  const res = await pressSignIn(`${app.url}/auth/signin?token=${token}`);
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return t.app.context().em.getConnection().execute(text, params);
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: 'bot-probes' });
  github = await startFakeGitHub({ token: 'ghp_probes' });
  github.addRepo('acme/web', { main: SHA });
  github.addRepo('acme/api', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, 'success');
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: 'bot-probes', DISCORD_API_URL: discord.apiUrl,
    GITHUB_TOKEN: 'ghp_probes', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100',
    AUTODEVHUB_CONFIG: config(), RATE_LIMIT_COMMANDS: '10/1m',
  });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([slack?.close(), discord?.close(), github?.close()]);
});

describe('deploys and links need a role, from the project’s own channels', () => {
  it('a random user cannot deploy: not from an unlinked channel, not from a linked one, not from a Discord DM', async () => {
    const unlinked = await slash('deploy acme/web staging', 'U0RANDOM', 'C0RANDOM');
    expect(unlinked.text).toMatch(/^Not allowed: web takes deploy commands only from its linked channels \(discord:112233, slack:C0WEB\), not from this channel/);
    expect(unlinked.response_type).toBe('ephemeral');
    const linked = await slash('deploy staging', 'U0RANDOM', 'C0WEB');
    expect(linked.text).toMatch(/^Not allowed: to deploy in web \(staging\) you need the developer role; you are a viewer\. An admin \(slack:U0ADMIN/);
    const dm = commandInteraction(APP_ID, 'deploy', { repo: 'acme/web', environment: 'staging' }, '4242', '998877') as Record<string, any>;
    delete dm.guild_id;
    dm.user = dm.member.user;
    delete dm.member;
    discord.openInteraction(dm.token, dm.channel_id);
    const fromDm = await postInteraction(t.url, keys, dm);
    expect(fromDm.body.data).toMatchObject({ flags: 64 });
    expect(fromDm.body.data.content).toMatch(/Not allowed: web takes deploy commands only from its linked channels .* not from a direct message/);
    // Even a developer deploys only from the project's channels.
    expect((await slash('deploy acme/web staging', 'U0DEV', 'C0RANDOM')).text).toMatch(/^Not allowed: web takes deploy commands only from its linked channels/);
    await new Promise((r) => setTimeout(r, 500));
    expect(github.deployments).toHaveLength(0);
    // A developer in the project's channel deploys.
    const ok = await slash('deploy staging', 'U0DEV', 'C0WEB');
    expect(ok.text).toMatch(/^Queued R-\d+: Deploy acme\/web to staging/);
    await waitFor(() => github.deployments.length === 1, 15_000, 'the one deployment');
    expect(github.deployments[0]!.payload.autodevhub_run).toBe(/R-\d+/.exec(ok.text)![0]);
  });

  it('a role granted or revoked through the API applies to the very next command (no stale access)', async () => {
    const api = async (method: string, path: string, body?: unknown) =>
      fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${await adminToken(t)}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    // Resolved once (and remembered for a moment) as a viewer…
    expect((await slash('deploy staging', 'U0LATER', 'C0WEB')).text).toMatch(/you need the developer role; you are a viewer/);
    const granted = (await (await api('POST', '/api/v1/roles/grants', { principal: 'slack:U0LATER', project: 'web', role: 'developer' })).json()) as { grant: { id: number } };
    // …and yet the grant counts at once,
    expect((await slash('deploy staging', 'U0LATER', 'C0WEB')).text).toMatch(/^Queued R-\d+: Deploy acme\/web to staging/);
    expect((await api('DELETE', `/api/v1/roles/grants/${granted.grant.id}`)).status).toBe(204);
    // and so does taking it back.
    expect((await slash('deploy staging', 'U0LATER', 'C0WEB')).text).toMatch(/you need the developer role; you are a viewer/);
  });

  it('a random user cannot re-point a linked channel to another project', async () => {
    const hijack = await slash('link acme/api', 'U0RANDOM', 'C0WEB');
    expect(hijack.text).toMatch(/^Not allowed: api takes link commands only from its linked channels \(slack:C0API\), not from this channel/);
    // From api's own channel it is a matter of role: a maintainer of both projects.
    expect((await slash('link acme/api', 'U0RANDOM', 'C0API')).text).toMatch(/^Not allowed: to link channels to the project in api you need the maintainer role; you are a viewer/);
    expect(await sql(`select project_key from channel_links where channel = 'slack:C0WEB'`)).toEqual([{ project_key: 'web' }]);
    const next = await slash('deploy staging', 'U0DEV', 'C0WEB');
    expect(next.text).toMatch(/Deploy acme\/web to staging/);
    const refused = await sql<{ action: string; data: { action: string } }>(`select action, data from audit_logs where actor = 'slack:U0RANDOM' order by id`);
    expect(refused.map((r) => r.data.action)).toEqual(['deploy.create', 'deploy.create', 'channel.link', 'channel.link']);
  });

  it('a run of another project is not shown to someone with no role there', async () => {
    const created = await t.app.context().intake.submit({ kind: 'story', requestedBy: 'slack:U0SECRET', sourcePlatform: 'slack', channel: 'slack:C0API', projectKey: 'api', input: { description: 'As an admin I want a secret feature so that nobody knows' }, delivery: { platform: 'slack', id: `secret-${Math.random()}` } });
    const probe = await slash(`status ${created.run.ref}`, 'U0RANDOM', 'C0WEB');
    expect(probe.response_type).toBe('ephemeral');
    expect(probe.text).toMatch(/^Not allowed: to see runs and stories in api you need the viewer role/);
    expect(probe.text).not.toContain('U0SECRET');
    // In the project's own channel it is visible (its channel role is viewer).
    expect((await slash(`status ${created.run.ref}`, 'U0RANDOM', 'C0API')).text).toMatch(new RegExp(`^${created.run.ref} story`));
  });
});

describe('rate limits', () => {
  it('500 story commands from one Slack user in a burst: the first few run, the rest are told privately to slow down', async () => {
    const before = Number((await sql<{ n: string }>(`select count(*) as n from workflow_runs where requested_by = 'slack:U0FLOOD'`))[0]!.n);
    const answers: Array<{ text: string; response_type: string }> = [];
    const started = Date.now();
    for (let batch = 0; batch < 25; batch++) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => slash(`story As a user I want feature ${batch}-${i} so that I benefit`, 'U0FLOOD', 'C0RANDOM')))));
    }
    const took = Date.now() - started;
    const queued = answers.filter((a) => a.text.startsWith('Queued'));
    const slowed = answers.filter((a) => /^Slow down: you have sent 10 commands in a short time\. Try again in \d+ s\.$/.test(a.text));
    expect(slowed.every((a) => a.response_type === 'ephemeral')).toBe(true);
    // One window of 10, or two if the burst straddled a window boundary.
    expect(queued.length, `in ${took} ms`).toBeGreaterThanOrEqual(10);
    expect(queued.length).toBeLessThanOrEqual(20);
    // Every answer is one of the two (an unexpected one is shown by its words).
    expect(answers.filter((a) => !queued.includes(a) && !slowed.includes(a)).map((a) => a.text)).toEqual([]);
    expect(queued.length + slowed.length).toBe(500);
    const after = Number((await sql<{ n: string }>(`select count(*) as n from workflow_runs where requested_by = 'slack:U0FLOOD'`))[0]!.n);
    expect(after - before).toBe(queued.length);
  }, 60_000);
});

describe('browser safety and sessions', () => {
  it('refuses a state change carried by the cookie from a foreign origin, whatever the content type', async () => {
    const count = async () => Number((await sql<{ n: string }>(`select count(*) as n from api_tokens where kind = 'widget'`))[0]!.n);
    const before = await count();
    const body = JSON.stringify({ project: 'web', origins: ['https://status.acme.test'] });
    const plain = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, origin: 'https://evil.test', 'content-type': 'text/plain' }, body });
    expect(plain.status).toBe(403);
    const json = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, origin: 'https://evil.test', 'content-type': 'application/json' }, body });
    expect(json.status).toBe(403);
    expect(((await json.json()) as { message: string }).message).toMatch(/Requests from https:\/\/evil.test are not accepted/);
    const crossSite = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body });
    expect(crossSite.status).toBe(403);
    expect(await count()).toBe(before);
    const own = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, origin: new URL(t.url).origin, 'content-type': 'application/json' }, body });
    expect(own.status).toBe(201);
    // Signing out from another site is refused too.
    expect((await fetch(`${t.url}/auth/signout`, { method: 'POST', headers: { cookie, origin: 'https://evil.test' }, redirect: 'manual' })).status).toBe(403);
  });

  it('console pages forbid framing, inline scripts and referrer leaks', async () => {
    const res = await fetch(`${t.url}/`, { headers: { cookie } });
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    // same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the console's own forms.
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    expect(await res.text()).not.toMatch(/<script>(?!<\/script>)|<style>/);
    expect((await fetch(`${t.url}/api/v1/me`, { headers: { cookie } })).headers.get('x-frame-options')).toBe('DENY');
  });

  it('signing out ends the session on the server: the old cookie and its socket stop working at once', async () => {
    const mine = await signInAgain(t);
    expect((await fetch(`${t.url}/api/v1/me`, { headers: { cookie: mine } })).status).toBe(200);
    const feed = await connectFeed(t.url, mine);
    const revoked = new Promise((resolve) => feed.socket.once('revoked', resolve));
    const out = await fetch(`${t.url}/auth/signout`, { method: 'POST', headers: { cookie: mine, origin: new URL(t.url).origin }, redirect: 'manual' });
    expect(out.status).toBe(303);
    await revoked;
    const after = await fetch(`${t.url}/api/v1/me`, { headers: { cookie: mine } });
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ error: 'unauthorized' });
    await expect(connectFeed(t.url, mine)).rejects.toThrow(/unauthorized/);
  });
});

describe('people: a chat identity joins a console account', () => {
  it('whoami gives a private one-time link; opening it signed in links the identity, once', async () => {
    const who = await slash('whoami', 'U0DEV', 'C0WEB');
    expect(who.response_type).toBe('ephemeral');
    expect(who.text).toMatch(/^You are slack:U0DEV\./);
    expect(who.text).toContain('Roles: web: developer (granted)');
    const code = /\/link\?code=([\w-]+)/.exec(who.text)![1]!;
    const session = await signInAgain(t);
    const redeem = () => fetch(`${t.url}/api/v1/me/identities`, { method: 'POST', headers: { cookie: session, origin: new URL(t.url).origin, 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    const linked = await redeem();
    expect(linked.status).toBe(200);
    expect(((await linked.json()) as { person: { identities: string[] } }).person.identities.sort()).toEqual(['slack:U0DEV', 'web:admin']);
    expect((await redeem()).status).toBe(404);
    expect((await slash('whoami', 'U0DEV', 'C0WEB')).text).toMatch(/Linked identities: web:admin\.[\s\S]*Admin: yes/);
    const audit = await sql<{ actor: string }>(`select actor from audit_logs where action = 'identity.linked' and target = 'slack:U0DEV'`);
    expect(audit).toEqual([{ actor: 'web:admin' }]);
  });
});

describe('live feeds follow role changes', () => {
  it('stops sending a project’s events to open sockets once the person loses their role there', async () => {
    const api = async (method: string, path: string, body?: unknown) =>
      fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${await adminToken(t)}`, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const story = async (text: string) => {
      const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, origin: new URL(t.url).origin, 'content-type': 'application/json' }, body: JSON.stringify({ text, project: 'api' }) });
      const body = (await res.json()) as { run?: { ref: string } };
      if (!body.run) throw new Error(JSON.stringify(body));
      return body.run.ref;
    };
    const grant = ((await (await api('POST', '/api/v1/roles/grants', { principal: 'slack:U0GONE', project: 'api', role: 'viewer' })).json()) as { grant: { id: number } }).grant;
    const link = await createSignInToken(t.app.context().em, 'slack:U0GONE');
    const theirCookie = (await pressSignIn(`${t.url}/auth/signin?token=${link}`)).headers.get('set-cookie')!.split(';')[0]!;
    const viewer = await connectFeed(t.url, theirCookie);
    const watcher = await connectFeed(t.url, cookie);
    try {
      expect(await viewer.socket.emitWithAck('subscribe', { project: 'api' })).toMatchObject({ ok: true });
      await watcher.socket.emitWithAck('subscribe', { project: '*' });
      const before = await story('story As a viewer I want to see this run so that I know it ran');
      await waitFor(() => viewer.events.some((e) => e.ref === before), 10_000, 'the run seen while the role holds');

      const lost = new Promise((resolve) => viewer.socket.once('access-lost', resolve));
      expect((await api('DELETE', `/api/v1/roles/grants/${grant.id}`)).status).toBe(204);
      expect(await Promise.race([lost, new Promise((r) => setTimeout(() => r('no access-lost within 5 s'), 5000))])).toEqual({ rooms: ['project:api'] });
      const after = await story('story As an admin I want this run hidden so that only members see it');
      await waitFor(() => watcher.events.some((e) => e.ref === after && e.status === 'succeeded'), 20_000, 'the later run, seen by an admin');
      expect(viewer.events.filter((e) => e.ref === after)).toEqual([]);
    } finally {
      viewer.socket.disconnect();
      watcher.socket.disconnect();
    }
  });
});

describe('people: whoami links are never seen by others', () => {
  it('answers whoami to a mention privately: the link goes only to the person who asked, never into the channel', async () => {
    const ts = `17124${++n}.000100`;
    const event = { type: 'event_callback', event_id: `EvWho${n}`, team_id: 'T1', event: { type: 'app_mention', user: 'U0ADMIN', text: '<@UBOT> whoami', ts, channel: 'C0WEB' } };
    expect((await postToSlack(t.url, JSON.stringify(event), { contentType: 'application/json' })).status).toBe(200);
    const whisper = await waitFor(() => slack.callsOf('chat.postEphemeral').find((c) => c.args.thread_ts === ts), 5000, 'the private answer');
    expect(whisper.args).toMatchObject({ channel: 'C0WEB', user: 'U0ADMIN' });
    expect(String(whisper.args.text)).toMatch(/^You are slack:U0ADMIN\.[\s\S]*\/link\?code=/);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.callsOf('chat.postMessage').filter((c) => JSON.stringify(c.args).includes('/link?code='))).toEqual([]);
  });
});

describe('API tokens: scripts and CI', () => {
  async function makeToken(scopes: string[], auth: Record<string, string> = { cookie }) {
    const res = await fetch(`${t.url}/api/v1/tokens`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: `ci ${scopes.join('+')}`, scopes }) });
    return { status: res.status, body: (await res.json()) as { token: string; id: number; message?: string } };
  }

  it('are shown once, stored hashed, act as their owner within their scopes, record their use, and stop when revoked or expired', async () => {
    const { status, body } = await makeToken(['read', 'run']);
    expect(status).toBe(201);
    expect(body.token).toMatch(/^adh_[\w-]{40,}$/);
    expect(await sql(`select * from api_tokens where token_hash = ?`, [body.token])).toHaveLength(0);
    const bearer = { authorization: `Bearer ${body.token}`, 'content-type': 'application/json' };
    const story = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: bearer, body: JSON.stringify({ text: 'story As a CI job I want to file stories so that nothing is lost', project: 'web' }) });
    expect(story.status).toBe(202);
    // No Origin check for a bearer token: it is no ambient credential.
    const foreign = await fetch(`${t.url}/api/v1/runs`, { headers: { ...bearer, origin: 'https://evil.test' } });
    expect(foreign.status).toBe(200);
    const deploy = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: bearer, body: JSON.stringify({ text: 'deploy acme/web staging' }) });
    expect(deploy.status).toBe(403);
    expect(((await deploy.json()) as { message: string }).message).toMatch(/does not have the "deploy" scope/);
    // A token cannot mint itself more power.
    expect((await makeToken(['admin'], { authorization: `Bearer ${body.token}` })).status).toBe(403);
    const listed = (await (await fetch(`${t.url}/api/v1/tokens`, { headers: { cookie } })).json()) as { tokens: Array<{ id: number; lastUsedAt: string | null; scopes: string[] }> };
    expect(listed.tokens.find((x) => x.id === body.id)).toMatchObject({ scopes: ['read', 'run'], lastUsedAt: expect.any(String) });

    expect((await fetch(`${t.url}/api/v1/tokens/${body.id}`, { method: 'DELETE', headers: { cookie } })).status).toBe(204);
    expect((await fetch(`${t.url}/api/v1/runs`, { headers: bearer })).status).toBe(401);
    const other = await makeToken(['read']);
    await sql(`update api_tokens set expires_at = now() - interval '1 second' where id = ?`, [other.body.id]);
    expect((await fetch(`${t.url}/api/v1/runs`, { headers: { authorization: `Bearer ${other.body.token}` } })).status).toBe(401);
    expect((await fetch(`${t.url}/api/v1/runs`, { headers: { authorization: 'Bearer adh_forged-not-a-token-at-all' } })).status).toBe(401);
  });
});

/** An admin's API token (the console session's API rate limit is spent by the test before). */
async function adminToken(app: TestApp): Promise<string> {
  const { createApiToken } = await import('../../src/core/access/api-tokens.js');
  return (await createApiToken({ ctx: app.app.context(), actor: { id: 'web:admin', platform: 'web', channel: null } }, { name: 'sockets', scopes: ['admin'] })).token;
}

describe('behind a reverse proxy (TRUST_PROXY)', () => {
  it('limits by the address the proxy saw, not by hops the client wrote into X-Forwarded-For', async () => {
    const behind = await startTestApp({ AUTODEVHUB_CONFIG: config(), TRUST_PROXY: 'true', RATE_LIMIT_SIGNIN: '3/1m' });
    try {
      // The client sends its own X-Forwarded-For; the proxy appends the address it saw (6.6.6.6).
      const tries = [];
      for (let i = 0; i < 5; i++) tries.push((await fetch(`${behind.url}/auth/signin?token=guess-${i}`, { headers: { 'x-forwarded-for': `10.0.0.${i}, 6.6.6.6` } })).status);
      expect(tries).toEqual([401, 401, 401, 429, 429]);
      // Someone else behind the same proxy is not blocked by them.
      expect((await fetch(`${behind.url}/auth/signin?token=guess-x`, { headers: { 'x-forwarded-for': '6.6.6.6, 7.7.7.7' } })).status).toBe(401);
    } finally {
      await behind.stop();
    }
  });
});

describe('limits per token, per address and per widget token', () => {
  let small: TestApp;
  let c: string;
  beforeAll(async () => {
    small = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, AUTODEVHUB_CONFIG: config(), RATE_LIMIT_API: '5/1m', RATE_LIMIT_SIGNIN: '4/1m', RATE_LIMIT_BAD_SIGNATURES: '4/1m', RATE_LIMIT_SOCKETS: '3/1m' });
    c = await small.signIn();
  });
  afterAll(async () => {
    await small?.stop();
  });

  it('the API answers 429 with Retry-After and RateLimit headers past the limit', async () => {
    const statuses: Response[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await fetch(`${small.url}/api/v1/me`, { headers: { cookie: c } }));
    expect(statuses.slice(0, 5).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[0]!.headers.get('ratelimit-limit')).toBe('5');
    expect(statuses[0]!.headers.get('ratelimit-remaining')).toBe('4');
    const limited = statuses[5]!;
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('ratelimit-policy')).toBe('5;w=60');
    expect(await limited.json()).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/Try again in \d+ s/) });
  });

  it('sign-in attempts and failed signatures are limited per address', async () => {
    const tries = [];
    for (let i = 0; i < 4; i++) tries.push((await fetch(`${small.url}/auth/signin?token=guess-${i}`, { redirect: 'manual' })).status);
    expect(tries).toEqual([401, 401, 401, 429]);
    const bad = [];
    for (let i = 0; i < 5; i++) bad.push((await postToSlack(small.url, slashCommandBody({ trigger_id: `bad-${i}` }), { secret: 'wrong-secret' })).status);
    expect(bad).toEqual([401, 401, 401, 401, 429]);
    // The address is refused unread for a while, even with a good signature.
    const good = await postToSlack(small.url, slashCommandBody({ trigger_id: 'good-after-bad' }));
    expect(good.status).toBe(429);
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('socket connections are limited per widget token', async () => {
    const made = (await (await fetch(`${small.url}/api/v1/widget-tokens`, { method: 'POST', headers: { authorization: `Bearer ${await adminToken(small)}`, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'web', origins: ['https://status.acme.test'] }) })).json()) as { token: string };
    for (let i = 0; i < 3; i++) (await connectFeed(small.url, undefined, { token: made.token, origin: 'https://status.acme.test' })).socket.close();
    await expect(connectFeed(small.url, undefined, { token: made.token, origin: 'https://status.acme.test' })).rejects.toThrow(/too many connections for this widget token/);
  });
});
