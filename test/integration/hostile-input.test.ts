import { request as httpRequest } from 'node:http';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys } from '../helpers/discord.js';
import { tempDir } from '../helpers/tmp.js';

/** What an attacker (or a careless user) sends, at every edge, and what comes back. */

const APP_ID = '990000000000000002';
const BOT = 'discord-bot-hostile';
const WEBHOOK_SECRET = 'hostile-webhook-secret';
const keys = discordKeys();
let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;

function configWithStaging(): string {
  const file = join(tempDir('hostile'), 'autodevhub.yaml');
  writeFileSync(file, 'projects:\n  - key: web\n    repo: acme/web\n    channels: ["slack:C0WEB"]\n    roles: { developer: [\"slack:U2147483697\", \"slack:U1\"] }\n    environments:\n      staging: { required_approvals: 0 }\n');
  return file;
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: BOT });
  github = await startFakeGitHub({ token: 'ghp_hostile' });
  github.addRepo('acme/web', { main: 'a'.repeat(40) });
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: BOT, DISCORD_API_URL: discord.apiUrl,
    GITHUB_TOKEN: 'ghp_hostile', GITHUB_API_URL: github.url, GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
    AUTODEVHUB_CONFIG: configWithStaging(),
  });
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([slack?.close(), discord?.close(), github?.close()]);
});

describe('Slack: user text never becomes markup', () => {
  it('escapes a mention echoed in the in-channel reply to a command', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ text: 'deploy acme/web staging <!channel>', channel_id: 'C0WEB', trigger_id: `h-${Math.random()}` }));
    const body = (await res.json()) as { text: string; response_type: string };
    expect(body.response_type).toBe('in_channel');
    expect(body.text).toContain('at &lt;!channel&gt;');
    expect(body.text).not.toContain('<!channel>');
  });

  it('escapes the reply to a mention, posted with chat.postMessage', async () => {
    const event = { type: 'event_callback', event_id: `Ev${Math.random()}`, team_id: 'T1', event: { type: 'app_mention', user: 'U1', text: '<@UBOT> deploy acme/web staging <!here|here&more>', ts: '1712345600.000100', channel: 'C0WEB' } };
    await postToSlack(t.url, JSON.stringify(event), { contentType: 'application/json' });
    const post = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => c.args.thread_ts === '1712345600.000100'), 5000, 'the reply');
    expect(String(post.args.text)).toContain('at &lt;!here|here&amp;more&gt;');
    expect(String(post.args.text)).not.toMatch(/<!here/);
  });

  it('escapes the story message fallback text and the run message', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ text: 'story As an admin <!everyone> I want to export invoices as CSV <https://evil.test|now> so that I can file them', channel_id: 'C0WEB', trigger_id: `h-${Math.random()}` }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    const story = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).startsWith(`User story ${ref}`)), 15_000, 'the story');
    const run = slack.callsOf('chat.postMessage').find((c) => String(c.args.text).startsWith(`${ref} ·`))!;
    for (const message of [story, run]) {
      const all = JSON.stringify(message.args);
      expect(all).not.toContain('<!everyone>');
      expect(all).not.toContain('<https://evil.test|');
    }
  });

  it.each([
    ['a payload that is an array', `payload=${encodeURIComponent('[1]')}`],
    ['a click without actions', `payload=${encodeURIComponent('{"type":"block_actions","user":{"id":"U1"}}')}`],
    ['a slash command without a user', 'command=%2Fautodevhub&text=help&channel_id=C1'],
  ])('answers a signed but malformed body (%s) with 400', async (_name, body) => {
    const res = await postToSlack(t.url, body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_body');
  });

  it('refuses a request with no signature headers before reading its body', async () => {
    const res = await fetch(`${t.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'command=%2Fautodevhub' });
    expect(res.status).toBe(401);
  });
});

describe('bodies that are not UTF-8', () => {
  const bytes = (text: string) => Buffer.concat([Buffer.from(text.split('\u00ff')[0]!), Buffer.from([0xff, 0xfe]), Buffer.from(text.split('\u00ff')[1]!)]);

  it('a correctly signed Slack command with invalid UTF-8 is told so (400), not called forged (401), and makes no run', async () => {
    const body = bytes(`${slashCommandBody({ channel_id: 'C0WEB', trigger_id: `u8-${Math.random()}` })}&text=story+\u00ff+abc`);
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', SLACK_SIGNING_SECRET).update(Buffer.concat([Buffer.from(`v0:${ts}:`), body])).digest('hex')}`;
    const res = await fetch(`${t.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature }, body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_body', message: 'The body is not valid UTF-8.' });
  });

  it('an API command with invalid UTF-8 is refused in words, not stored with replacement characters', async () => {
    const cookie = await t.signIn();
    const res = await fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: bytes('{"text":"story As a user I want \u00ff to work so that x"}') });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe('The request body is not valid UTF-8.');
  });
});

describe('Discord', () => {
  async function post(interaction: unknown, timestamp: string) {
    const body = JSON.stringify(interaction);
    const res = await fetch(`${t.url}/discord/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-signature-ed25519': keys.sign(timestamp, body), 'x-signature-timestamp': timestamp },
      body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  const now = () => Math.floor(Date.now() / 1000);
  const story = () => commandInteraction(APP_ID, 'story', { description: 'As a user I want exports so that I keep my data' }, '111');

  it.each([
    ['stale (6 minutes old)', () => String(now() - 360)],
    ['from the future (6 minutes ahead)', () => String(now() + 360)],
    ['not a number', () => 'soon'],
    ['in milliseconds', () => String(Date.now())],
  ])('refuses a correctly signed interaction whose timestamp is %s', async (_name, ts) => {
    const res = await post(story(), ts());
    expect(res.status).toBe(401);
  });

  it.each([
    ['member without a user', (i: Record<string, any>) => ({ ...i, member: {} })],
    ['options that are not an array', (i: Record<string, any>) => ({ ...i, data: { ...i.data, options: { name: 'story' } } })],
    ['a user id that is not a snowflake', (i: Record<string, any>) => ({ ...i, member: { user: { id: 'U1; drop' } } })],
    ['no token', (i: Record<string, any>) => ({ ...i, token: undefined })],
  ])('answers a signed but malformed interaction (%s) with 400', async (_name, change) => {
    const res = await post(change(story()), String(now()));
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_body');
  });

  it('never lets a mention in user text ping anyone', async () => {
    const res = await post(commandInteraction(APP_ID, 'deploy', { environment: '@everyone', repo: 'acme/web' }, '111'), String(now()));
    expect(res.body.data.allowed_mentions).toEqual({ parse: [] });
    expect(res.body.data.content).not.toMatch(/@everyone/);
  });
});

describe('GitHub webhooks: unauthenticated bodies cannot take the memory', () => {
  /** Sends headers declaring a body, and resolves with the answer without ever sending the body. */
  function headersOnly(headers: Record<string, string>): Promise<{ status: number; ms: number }> {
    const started = performance.now();
    const url = new URL(`${t.url}/github/webhooks`);
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, ms: performance.now() - started });
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
  }

  it('refuses a missing or malformed signature before reading a byte of the body', async () => {
    const big = { 'content-type': 'application/json', 'content-length': String(24 * 1024 * 1024), 'x-github-event': 'push', 'x-github-delivery': 'd1' };
    expect((await headersOnly(big)).status).toBe(401);
    expect((await headersOnly({ ...big, 'x-hub-signature-256': 'sha256=nothex' })).status).toBe(401);
  });

  it('holds at most two large unverified bodies at once; the rest are told to retry, unread', async () => {
    // The senders are other processes (curl), so what grows here is the server's, not the test's
    // own twelve copies of the body.
    const file = join(tempDir('big-body'), 'body.json');
    writeFileSync(file, Buffer.alloc(24 * 1024 * 1024, 0x61));
    const rssBefore = process.memoryUsage().rss;
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        new Promise<number>((resolve) =>
          execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Expect:', '-X', 'POST', '--data-binary', `@${file}`, '-H', 'content-type: application/json', '-H', 'x-github-event: push', '-H', `x-github-delivery: d-${i}-${Math.random()}`, '-H', `x-hub-signature-256: sha256=${'0'.repeat(64)}`, `${t.url}/github/webhooks`], (_err, stdout) => resolve(Number(stdout) || 503)),
        ),
      ),
    );
    const rssGrowth = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(6);
    expect(statuses.filter((s) => s !== 401 && s !== 503)).toEqual([]);
    // Two bodies of 24 MiB read at most (and their parse), not twelve.
    expect(rssGrowth).toBeLessThan(200);
  }, 60_000);
});
