import { Writable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRun, pressSignIn, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeAnthropic } from '../fakes/anthropic.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Logs that can be followed and that never hold a secret: a debug-level run through every
 * surface (console, Slack, Discord, a GitHub webhook, Claude, widget tokens, sign-in), every
 * line captured; then the lines of one request and its jobs are followed by request id, and the
 * whole output is searched for every secret the process was given or handed out.
 */

const GH_TOKEN = 'ghp_0123456789abcdefghijABCDEFGHIJ0123';
const GH_WEBHOOK_SECRET = 'gh-webhook-secret-4f9d2c7e';
const ANTHROPIC_KEY = 'sk-ant-api03-secret-key-for-tests-7d1e';
const DISCORD_BOT = 'discord-bot-token-MTIzNDU2.secret';
const APP_ID = '990000000000000077';
const HEAD = '5'.repeat(40);
const BASE = '6'.repeat(40);
const STORY = 'Feature: Saved carts\n  As a shopper\n  I want to save my cart\n  So that I can buy later\n\n  Scenario: Save a cart\n    Given I have two items in my cart\n    When I save my cart\n    Then I see it under "Saved carts"\n';

const lines: string[] = [];
const capture = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  },
});
const keys = discordKeys();
let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let claude: Awaited<ReturnType<typeof startFakeAnthropic>>;
const handedOut: Record<string, string> = {};

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: DISCORD_BOT });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: HEAD });
  github.setParent(HEAD, BASE);
  github.setCompare(BASE, HEAD, [{ filename: 'src/cart.ts', status: 'modified', additions: 1, deletions: 0, changes: 1, patch: '@@ -1 +1 @@\n+export const x = 1;' }], [{ sha: HEAD, message: 'Add carts' }]);
  claude = await startFakeAnthropic({ apiKey: ANTHROPIC_KEY, script: [{ text: STORY }] });
  const dir = tempDir('logs');
  const config = join(dir, 'autodevhub.yaml');
  writeFileSync(config, 'projects:\n  - key: web\n    repo: acme/web\n    channels: ["slack:C0WEB"]\n    docs: { path: docs/, mode: pull_request }\n');
  t = await startTestApp(
    {
      LOG_LEVEL: 'debug',
      AUTODEVHUB_CONFIG: config,
      SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
      DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: DISCORD_BOT, DISCORD_API_URL: discord.apiUrl,
      GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, GITHUB_WEBHOOK_SECRET: GH_WEBHOOK_SECRET,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY, ANTHROPIC_BASE_URL: claude.url, ANTHROPIC_MODEL: 'claude-test',
    },
    { logDestination: capture },
  );
  handedOut.signInToken = new URL(t.app.signInUrl!).searchParams.get('token')!;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await Promise.all([slack?.close(), discord?.close(), github?.close(), claude?.close()]);
});

const parsed = () => lines.map((l) => JSON.parse(l) as Record<string, any>);

describe('one request, followed through its jobs', () => {
  it('returns X-Request-Id and puts it, the delivery id and the run on every line of the request and its jobs', async () => {
    const cookie = await t.signIn();
    handedOut.session = cookie.split('=')[1]!;
    const res = await fetch(`${t.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', 'x-request-id': 'req-follow-me-1', 'idempotency-key': 'delivery-follow-me-1' },
      body: JSON.stringify({ text: 'story As a shopper I want to save my cart so that I can buy later' }),
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('req-follow-me-1');
    const { run } = (await res.json()) as { run: { ref: string } };
    await waitFor(async () => (await (await fetch(`${t.url}/api/v1/runs/${run.ref}`, { headers: { cookie } })).json()).run.status === 'succeeded', 20_000, 'the story');
    await waitFor(() => parsed().some((l) => l.queue === 'chat' && l.run === run.ref) || parsed().some((l) => l.queue === 'story' && l.run === run.ref), 5000, 'job lines');

    const ours = parsed().filter((l) => l.requestId === 'req-follow-me-1');
    // The request's own lines and the story job's lines (its Claude call, its events) share the id.
    expect(ours.some((l) => l.queue === undefined)).toBe(true);
    const jobLines = ours.filter((l) => l.queue === 'story');
    expect(jobLines.length).toBeGreaterThan(0);
    for (const l of jobLines) expect(l).toMatchObject({ run: run.ref, deliveryId: 'delivery-follow-me-1 (from web:admin)', requestId: 'req-follow-me-1' });
    // Lines written after the run existed carry it too.
    const afterIntake = ours.filter((l) => l.queue === undefined && l.msg === 'request' && l.url === '/api/v1/commands');
    expect(afterIntake.length).toBe(1);

    // A request id that is not an id (spaces, too long) is replaced, never echoed.
    const bad = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(300) } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hands the ids, and nothing else, to the jobs', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const jobKeys = (await redis.keys(`${t.prefix}:*:[0-9a-z]*`)).filter((k) => /:(story|chat|docs|deploy):(run|chat)-[\w-]+$/.test(k));
      expect(jobKeys.length).toBeGreaterThan(0);
      for (const key of jobKeys) {
        const data = JSON.parse((await redis.hget(key, 'data')) ?? '{}') as Record<string, unknown>;
        expect(Object.keys(data).every((k) => ['runId', 'seq', 'requestId', 'deliveryId', 'run', 'pollAttempt'].includes(k)), `${key}: ${JSON.stringify(data)}`).toBe(true);
      }
    } finally {
      await redis.quit();
    }
  });
});

describe('secrets never reach the logs', () => {
  it('after a debug-level run through every surface, no line holds any secret', async () => {
    // Slack: a slash command, and one with a bad signature.
    const s = await postToSlack(t.url, slashCommandBody({ text: 'story As an editor I want to pin a draft so that I find it again', trigger_id: 'trig-logs-1' }));
    expect(s.status).toBe(200);
    expect((await postToSlack(t.url, slashCommandBody({ trigger_id: 'trig-logs-2' }), { secret: 'not-the-secret-at-all' })).status).toBe(401);
    // Discord: a command whose run edits the deferred answer through the interaction token.
    const interaction = commandInteraction(APP_ID, 'story', { description: 'As a reader I want to switch to dark mode so that I read at night' }, '4242');
    handedOut.discordInteractionToken = (interaction as { token: string }).token;
    discord.openInteraction(interaction.token, interaction.channel_id);
    expect((await postInteraction(t.url, keys, interaction)).status).toBe(200);
    // GitHub: a signed push that starts a docs run (Claude writes it, GitHub takes the PR).
    const body = JSON.stringify({ ref: 'refs/heads/main', before: BASE, after: HEAD, deleted: false, repository: { full_name: 'acme/web', name: 'web', default_branch: 'main' }, commits: [{ id: HEAD, message: 'Add carts' }], head_commit: { id: HEAD, message: 'Add carts' }, pusher: { name: 'dev' }, sender: { login: 'dev' } });
    const hook = await fetch(`${t.url}/github/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'gh-delivery-logs-1', 'x-hub-signature-256': await sign(GH_WEBHOOK_SECRET, body) },
      body,
    });
    expect(hook.status).toBe(202);
    // A widget token, made and used.
    const cookie = `adh_session=${handedOut.session}`;
    const made = await fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'web', origins: ['https://status.example.com'] }) });
    handedOut.widgetToken = ((await made.json()) as { token: string }).token;
    await fetch(`${t.url}/readyz`);
    await fetch(`${t.url}/auth/signin?token=${handedOut.signInToken}`, { redirect: 'manual' });
    await pressSignIn(`${t.url}/auth/signin?token=${handedOut.signInToken}`);

    await waitFor(() => github.pulls.length > 0 && slack.callsOf('chat.postMessage').length >= 2 && discord.calls.length >= 2, 25_000, 'the docs PR and the chat posts');
    await new Promise((r) => setTimeout(r, 500));

    expect(lines.length).toBeGreaterThan(50);
    expect(parsed().some((l) => l.level === 20)).toBe(true); // debug lines were written
    const secrets: Record<string, string> = {
      SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, DISCORD_BOT_TOKEN: DISCORD_BOT, GITHUB_TOKEN: GH_TOKEN, GITHUB_WEBHOOK_SECRET: GH_WEBHOOK_SECRET,
      ANTHROPIC_API_KEY: ANTHROPIC_KEY, AUTODEVHUB_SECRET: t.env.AUTODEVHUB_SECRET!, ...handedOut,
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(8);
      const line = lines.find((l) => l.includes(value));
      expect(line, `${name} appears in the logs`).toBeUndefined();
    }
  }, 60_000);
});
