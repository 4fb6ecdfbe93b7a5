import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFeed, consoleRun, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeAnthropic } from '../fakes/anthropic.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Metrics as Prometheus reads them from the live /metrics after real work through every part:
 * runs and their stages, Claude calls and tokens, the story cache, GitHub calls and its rate
 * limit, a deploy waiting for approval, Slack and Discord acknowledgements, a Discord 429,
 * queue depths, a socket. Then the Grafana dashboard: it parses, and every metric its queries
 * name is one this /metrics serves. And /readyz: each dependency with its time, an outside
 * service that fails is degraded, not down.
 */

const GH_TOKEN = 'ghp_metrics_token';
const KEY = 'sk-ant-metrics-key';
const APP_ID = '990000000000000088';
const BOT = 'discord-bot-token-metrics';
const SHA = 'a'.repeat(40);
const STORY = 'Feature: Saved carts\n  As a shopper\n  I want to save my cart\n  So that I can buy later\n\n  Scenario: Save a cart\n    Given I have two items in my cart\n    When I save my cart\n    Then I see it under "Saved carts"\n';
const keys = discordKeys();

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let claude: Awaited<ReturnType<typeof startFakeAnthropic>>;
let cookie: string;

/** Prometheus text format → samples by name and labels, and the declared families. */
function parse(text: string) {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function scrape() {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  return parse(await res.text());
}

/** The value of one series (summed over series that match the labels given). */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const { samples } = await scrape();
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: BOT });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }], []);
  claude = await startFakeAnthropic({ apiKey: KEY, script: [{ text: STORY, inputTokens: 120, outputTokens: 80 }] });
  const dir = tempDir('metrics');
  const config = join(dir, 'autodevhub.yaml');
  writeFileSync(config, 'projects:\n  - key: web\n    repo: acme/web\n    channels: ["slack:C0WEB", "discord:112233"]\n    roles: { developer: ["*"] }\n    environments:\n      production: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 1h }\n');
  t = await startTestApp({
    AUTODEVHUB_CONFIG: config,
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: BOT, DISCORD_API_URL: discord.apiUrl,
    GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, READYZ_CACHE_SECONDS: '0',
    ANTHROPIC_API_KEY: KEY, ANTHROPIC_BASE_URL: claude.url, ANTHROPIC_MODEL: 'claude-test',
  });
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await Promise.all([slack?.close(), discord?.close(), github?.close().catch(() => undefined), claude?.close()]);
});

describe('metrics after real work', () => {
  it('runs, stages, Claude calls and tokens, and the story cache', async () => {
    cookie = await t.signIn();
    const text = 'story As a shopper I want to save my cart so that I can buy later';
    expect((await consoleRun(t, cookie, text)).run.status).toBe('succeeded');
    expect((await consoleRun(t, cookie, text)).story!.cached).toBe(true);
    await waitFor(async () => (await value('autodevhub_run_duration_seconds_count', { kind: 'story', status: 'succeeded' })) === 2, 5000, 'two finished runs');
    expect(await value('autodevhub_run_stage_duration_seconds_count', { kind: 'story', stage: 'generate' })).toBe(2);
    expect(await value('autodevhub_run_stage_duration_seconds_count', { kind: 'story', stage: 'queued' })).toBe(2);
    expect(await value('autodevhub_ai_requests_total', { provider: 'claude', operation: 'generate', outcome: 'ok' })).toBe(1);
    expect(await value('autodevhub_ai_tokens_total', { provider: 'claude', type: 'input' })).toBe(120);
    expect(await value('autodevhub_ai_tokens_total', { provider: 'claude', type: 'output' })).toBe(80);
    expect(await value('autodevhub_ai_request_duration_seconds_count', { provider: 'claude', operation: 'generate' })).toBe(1);
    expect(await value('autodevhub_story_cache_requests_total', { result: 'hit' })).toBe(1);
    expect(await value('autodevhub_story_cache_requests_total', { result: 'miss' })).toBe(1);
    expect(await value('autodevhub_queue_jobs', { queue: 'story', state: 'completed' })).toBe(2);
    expect(await value('autodevhub_http_request_duration_seconds_count', { route: '/api/v1/commands', method: 'POST', status: '202' })).toBe(2);
  });

  it('a deploy waiting for approval, GitHub calls and the rate limit GitHub reports, Slack acknowledgements', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ text: 'deploy production', user_id: 'U0DEV', channel_id: 'C0WEB', trigger_id: 'metrics-deploy-1' }));
    expect(res.status).toBe(200);
    await waitFor(async () => (await value('autodevhub_approvals_waiting')) === 1, 15_000, 'the deploy to wait for approval');
    await new Promise((r) => setTimeout(r, 1100));
    expect(await value('autodevhub_approval_oldest_wait_seconds')).toBeGreaterThanOrEqual(1);
    expect(await value('autodevhub_github_requests_total', { method: 'GET', route: '/repos/{owner}/{repo}', status: '200' })).toBeGreaterThanOrEqual(1);
    const remaining = await value('autodevhub_github_rate_limit_remaining', { resource: 'core' });
    expect(remaining).toBeGreaterThan(4900);
    expect(remaining).toBeLessThan(5000);
    expect(await value('autodevhub_github_rate_limit', { resource: 'core' })).toBe(5000);
    expect(await value('autodevhub_platform_ack_duration_seconds_count', { platform: 'slack' })).toBe(1);
    // Within the 3-second budget.
    expect(await value('autodevhub_platform_ack_duration_seconds_bucket', { platform: 'slack', le: '3' })).toBe(1);
    await waitFor(async () => (await value('autodevhub_chat_api_requests_total', { platform: 'slack', outcome: 'ok' })) >= 2, 10_000, 'Slack posts');
  });

  it('Discord 429s and chat API errors, by platform', async () => {
    const i = commandInteraction(APP_ID, 'story', { description: 'As a reader I want to switch to dark mode so that I read at night' }, '4242');
    discord.openInteraction(i.token, i.channel_id);
    discord.rateLimitNext(1);
    expect((await postInteraction(t.url, keys, i)).status).toBe(200);
    await waitFor(async () => (await value('autodevhub_chat_api_rate_limited_total', { platform: 'discord' })) === 1, 15_000, 'the 429 to be counted');
    await waitFor(async () => (await value('autodevhub_chat_api_requests_total', { platform: 'discord', outcome: 'ok' })) >= 1, 15_000, 'the Discord edit after the wait');
    // A render that Discord refuses (an interaction it does not know) is an error.
    const unknown = commandInteraction(APP_ID, 'story', { description: 'As an editor I want to pin a draft so that I find it again' }, '4243');
    expect((await postInteraction(t.url, keys, unknown)).status).toBe(200);
    await waitFor(async () => (await value('autodevhub_chat_api_requests_total', { platform: 'discord', outcome: 'error' })) >= 1, 15_000, 'the refused edit');
    expect(await value('autodevhub_platform_ack_duration_seconds_count', { platform: 'discord' })).toBe(2);
  });

  it('connected sockets', async () => {
    const feed = await connectFeed(t.url, cookie);
    expect(await value('autodevhub_socket_connections')).toBe(1);
    feed.socket.close();
    await waitFor(async () => (await value('autodevhub_socket_connections')) === 0, 5000, 'the socket to close');
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../monitoring/grafana/dashboards/autodevhub.json', import.meta.url), 'utf8')) as {
    uid: string;
    panels: Array<{ title: string; datasource: { uid: string }; targets: Array<{ expr: string }> }>;
  };

  it('parses, and every metric its queries name exists in the live /metrics', async () => {
    expect(dashboard.uid).toBe('autodevhub');
    expect(dashboard.panels.length).toBeGreaterThan(10);
    const { samples, types } = await scrape();
    const served = new Set(samples.map((s) => s.name));
    const named = new Set<string>();
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe('prometheus');
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) for (const m of target.expr.matchAll(/\bautodevhub_\w+/g)) named.add(m[0]);
    }
    expect(named.size).toBeGreaterThan(15);
    for (const name of named) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      expect(types.has(name) || (types.get(family) === 'histogram' && name !== family), `${name} is declared in /metrics`).toBe(true);
      expect(served.has(name), `${name} has samples in /metrics after the work above`).toBe(true);
    }
    // The provisioning points Grafana at the dashboard and Prometheus at the processes.
    const prometheus = readFileSync(new URL('../../monitoring/prometheus/prometheus.yml', import.meta.url), 'utf8');
    expect(prometheus).toMatch(/targets: \["web:3000"\]/);
    expect(prometheus).toMatch(/targets: \["worker:3000"\]/);
  });
});

describe('/readyz', () => {
  it('reports each dependency with its time, within a second', async () => {
    const started = performance.now();
    const res = await fetch(`${t.url}/readyz`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ok: boolean; status: string; checks: Record<string, { status: string; ms: number }> };
    expect(body).toMatchObject({ ok: true, status: 'ready' });
    expect(Object.keys(body.checks).sort()).toEqual(['database', 'discord', 'github', 'redis', 'slack']);
    for (const c of Object.values(body.checks)) {
      expect(c.status).toBe('up');
      expect(c.ms).toBeGreaterThanOrEqual(0);
    }
  });

  it('shows a GitHub that does not answer as degraded, not down', async () => {
    await github.close();
    const started = performance.now();
    const res = await fetch(`${t.url}/readyz`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, status: 'degraded', checks: { github: { status: 'degraded', error: expect.any(String) }, database: { status: 'up' }, redis: { status: 'up' } } });
  });
});
