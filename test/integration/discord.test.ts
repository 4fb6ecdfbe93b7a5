import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { commandInteraction, componentInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';
import { getRun } from '../../src/core/runs/store.js';
import { linkIdentities } from '../../src/core/access/identities.js';
import { tempDir } from '../helpers/tmp.js';

const APP_ID = '1234567890';
const BOT = 'discord-bot-token';
const GH = 'ghp_discord';
const SHA = 'f'.repeat(40);
const keys = discordKeys();
let t: TestApp;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;

/** Discord opens the interaction's webhook when it delivers it. */
async function send(interaction: ReturnType<typeof commandInteraction> | ReturnType<typeof componentInteraction>, opts: { badSignature?: boolean } = {}) {
  discord.openInteraction(interaction.token, interaction.channel_id);
  return postInteraction(t.url, keys, interaction, opts);
}

beforeAll(async () => {
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: BOT });
  github = await startFakeGitHub({ token: GH });
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github.addRepo('acme/web', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, 'success', 'https://production.acme.test');
  const dir = tempDir('discord');
  const config = join(dir, 'autodevhub.yaml');
  writeFileSync(config, `projects:
  - key: web
    repo: acme/web
    channels: ["discord:112233", "slack:C0WEB"]
    roles: { developer: ["discord:111", "discord:222", "slack:U0DEV"] }
    environments:
      production: { approvers: ["discord:111", "discord:222", "discord:333"], required_approvals: 1, prevent_self_approval: true }
`);
  t = await startTestApp({
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: BOT, DISCORD_API_URL: discord.apiUrl,
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    GITHUB_TOKEN: GH, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config,
  });
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([discord?.close(), github?.close(), slack?.close()]);
});

describe('Discord interactions', () => {
  it('refuses a bad signature with 401, and answers PING with PONG', async () => {
    const ping = { id: '1', application_id: APP_ID, type: 1, token: 'x', version: 1 };
    expect((await postInteraction(t.url, keys, ping, { badSignature: true })).status).toBe(401);
    const unsigned = await fetch(`${t.url}/discord/interactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ping) });
    expect(unsigned.status).toBe(401);
    const other = discordKeys();
    expect((await postInteraction(t.url, other, ping)).status).toBe(401);
    const pong = await postInteraction(t.url, keys, ping);
    expect(pong).toEqual({ status: 200, body: { type: 1 } });
  });

  it('runs a story end to end: a deferred answer, the original edited as it runs, the story as a follow-up', async () => {
    const i = commandInteraction(APP_ID, 'story', { description: 'As a shopper I want to save my cart so that I can buy later' }, '111');
    const res = await send(i);
    expect(res.body).toEqual({ type: 5 });
    const followUp = await waitFor(
      () => discord.calls.find((c) => c.method === 'POST' && c.route === `/webhooks/${APP_ID}/${i.token}` && String(c.body?.embeds?.[0]?.title).startsWith('User story')),
      15_000,
      'story follow-up',
    );
    const description = String(followUp.body!.embeds[0].description);
    expect(checkGherkin(description.replace(/^```gherkin\n/, '').replace(/\n```$/, '')).ok).toBe(true);
    expect(JSON.stringify(followUp.body!.embeds[0].fields)).toContain('offline generator');
    expect(followUp.body!.components[0].components.map((b: { custom_id: string }) => b.custom_id.split(':')[0])).toEqual(['story_accept', 'story_regenerate', 'story_pr']);
    const edits = discord.calls.filter((c) => c.method === 'PATCH' && c.route.startsWith(`/webhooks/${APP_ID}/${i.token}/messages/`));
    expect(edits[0]!.route.endsWith('/@original')).toBe(true);
    await waitFor(() => discord.calls.some((c) => c.method === 'PATCH' && c.route.startsWith(`/webhooks/${APP_ID}/${i.token}/messages/`) && String(c.body?.embeds?.[0]?.title).includes('succeeded')), 10_000, 'edited to succeeded');
    // The interaction webhook needs no bot token; nothing leaked it there.
    expect(discord.calls.filter((c) => c.route.startsWith('/webhooks/')).every((c) => c.auth === undefined)).toBe(true);

    // Accept from the button: the message is updated in the answer itself.
    const storyId = Number(String(followUp.body!.components[0].components[0].custom_id).split(':')[1]);
    const accept = await send(componentInteraction(APP_ID, `story_accept:${storyId}`, '222'));
    expect(accept.body.type).toBe(7);
    expect(JSON.stringify(accept.body.data.embeds[0].fields)).toContain('by <@222>');

    // Open PR, clicked twice: acknowledged at once (deferred), one pull request, the card edited with its link.
    const pullsBefore = github.pulls.length;
    const clicks = [componentInteraction(APP_ID, `story_pr:${storyId}`, '222'), componentInteraction(APP_ID, `story_pr:${storyId}`, '111')];
    const answers = await Promise.all(clicks.map((c) => send(c)));
    expect(answers.map((a) => a.body.type)).toEqual([6, 6]);
    const edited = await waitFor(() => discord.calls.find((c) => c.method === 'PATCH' && clicks.some((k) => c.route === `/webhooks/${APP_ID}/${k.token}/messages/@original`) && JSON.stringify(c.body?.embeds ?? '').includes('/pull/')), 15_000, 'the card edited with the pull request');
    expect(JSON.stringify(edited.body!.components)).not.toContain('story_pr');
    await waitFor(() => discord.calls.filter((c) => c.method === 'POST' && clicks.some((k) => c.route === `/webhooks/${APP_ID}/${k.token}`) && c.body?.flags === 64).length === 2, 10_000, 'both clickers told');
    expect(github.pulls.length - pullsBefore).toBe(1);
  }, 40_000);

  it('makes one run for a repeated delivery of the same interaction', async () => {
    const i = commandInteraction(APP_ID, 'story', { description: 'As an editor I want to archive drafts' }, '111');
    await send(i);
    const again = await send(i);
    expect(again.body.data.content).toMatch(/^Queued R-\d+/);
    const rows: Array<{ n: string }> = await t.app.context().em.getConnection().execute(`select count(*) as n from processed_deliveries where delivery_id = ?`, [`interaction:${i.id}`]);
    expect(Number(rows[0]!.n)).toBe(1);
  });

  it('answers an unknown or incomplete command privately with its usage', async () => {
    const res = await send(commandInteraction(APP_ID, 'deploy', {}, '111'));
    expect(res.body.type).toBe(4);
    expect(res.body.data.flags).toBe(64);
    expect(res.body.data.content).toMatch(/Name the environment to deploy to[\s\S]*Usage: \/autodevhub deploy/);
  });

  it('asks for approval with buttons; refuses self-approval privately; an approver deploys', async () => {
    const i = commandInteraction(APP_ID, 'deploy', { environment: 'production' }, '111');
    expect((await send(i)).body).toEqual({ type: 5 });
    const approval = await waitFor(() => discord.calls.find((c) => c.method === 'POST' && c.route === `/webhooks/${APP_ID}/${i.token}` && String(c.body?.embeds?.[0]?.title).startsWith('Approval needed')), 15_000, 'approval message');
    const ref = /R-\d+/.exec(String(approval.body!.embeds[0].title))![0];
    expect(String(approval.body!.embeds[0].description)).toContain('<@111>, <@222>, <@333>');
    const self = await send(componentInteraction(APP_ID, `deploy_approve:${ref}`, '111'));
    expect(self.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(self.body.data.content).toMatch(/someone else must approve it/);
    const ok = await send(componentInteraction(APP_ID, `deploy_approve:${ref}`, '222'));
    expect(ok.body).toEqual({ type: 6 });
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 15_000, 'deploy');
    expect(run.status).toBe('succeeded');
    expect(github.deployments.filter((d) => d.payload.autodevhub_run === ref)).toHaveLength(1);
    // The approval message was edited in place with the decision and without buttons.
    await waitFor(() => discord.calls.find((c) => c.method === 'PATCH' && String(c.body?.embeds?.[0]?.description).includes('approved by <@222>') && c.body?.components?.length === 0), 10_000, 'approval edited');
  });

  it('takes the Promote and Roll back buttons as the clicker, answering privately in words', async () => {
    // The production deploy of the test above succeeded; it is the only one, and web has no pipeline.
    const done = await waitFor(() => github.deployments.find((d) => typeof d.payload.autodevhub_run === 'string'), 5_000, 'a deployed run');
    const ref = String(done.payload.autodevhub_run);
    const promote = await send(componentInteraction(APP_ID, `deploy_promote:${ref}`, '222'));
    expect(promote.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(promote.body.data.content).toMatch(/web has no promotion pipeline: add "promotion: \[staging, production\]"/);
    const rollback = await send(componentInteraction(APP_ID, `deploy_rollback:${ref}`, '222'));
    expect(rollback.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(rollback.body.data.content).toMatch(/No earlier commit succeeded in production; there is nothing to roll back to/);
    // Someone with no role in web may not roll back: refused privately, naming the role.
    const stranger = await send(componentInteraction(APP_ID, `deploy_rollback:${ref}`, '999'));
    expect(stranger.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(stranger.body.data.content).toMatch(/^❌ Not allowed: .*developer/);
    expect(github.deployments.filter((d) => d.payload.autodevhub_run !== ref)).toHaveLength(0);
  });

  it('a person linked across platforms cannot approve from Discord what they asked for on Slack', async () => {
    await linkIdentities(t.app.context().em, ['slack:U0DEV', 'discord:333']);
    const res = await postToSlack(t.url, slashCommandBody({ text: 'deploy production', user_id: 'U0DEV', channel_id: 'C0WEB', trigger_id: 'linked-deploy-1' }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    await waitFor(async () => (await getRun(t.app.context().em, ref)).status === 'waiting_approval', 15_000, 'waiting');
    const refused = await send(componentInteraction(APP_ID, `deploy_approve:${ref}`, '333'));
    expect(refused.body.data.content).toMatch(new RegExp(`You requested ${ref}`));
    expect((await getRun(t.app.context().em, ref)).status).toBe('waiting_approval');
    const ok = await send(componentInteraction(APP_ID, `deploy_approve:${ref}`, '111'));
    expect(ok.body).toEqual({ type: 6 });
  });

  it('honours a 429 with retry_after from Discord', async () => {
    discord.rateLimitNext(1);
    const i = commandInteraction(APP_ID, 'story', { description: 'As a reader I want to switch to dark mode so that reading at night is easier' }, '111');
    await send(i);
    await waitFor(() => discord.calls.find((c) => c.method === 'POST' && c.route === `/webhooks/${APP_ID}/${i.token}` && String(c.body?.embeds?.[0]?.title).startsWith('User story')), 20_000, 'story after 429');
    const limited = discord.calls.find((c) => c.status === 429 && c.route.includes(i.token))!;
    expect(limited).toBeDefined();
    const retry = discord.calls.find((c) => c.route === limited.route && c.method === limited.method && c.at > limited.at)!;
    expect(retry.at - limited.at).toBeGreaterThanOrEqual(250);
  });

  it('after 14 minutes, continues with the bot token in the channel instead of the interaction token', async () => {
    const { createDiscordAdapter } = await import('../../src/bots/discord/index.js');
    const adapter = createDiscordAdapter({ config: { publicKey: keys.publicKeyHex, applicationId: APP_ID, botToken: BOT, apiUrl: discord.apiUrl }, logger: t.app.logger, publicUrl: 'http://x', context: () => t.app.context() });
    const run = { id: 1, ref: 'R-1', kind: 'story', status: 'running', stage: 'generate', progress: 10, input: { description: 'x' }, requestedBy: 'discord:111', channel: 'discord:112233', threadRef: 'discord:112233:555', result: {}, error: null } as never;
    const before = discord.calls.length;
    discord.openInteraction('fresh-token', '112233');
    const now = Date.now();
    // Fresh: through the interaction webhook, without the bot token.
    await adapter.chat.upsertRunMessage({ run, webUrl: 'http://x/runs/R-1', refs: { discord_interaction: `fresh-token|${now}` } }).catch(() => undefined);
    const fresh = discord.calls.slice(before)[0]!;
    expect(fresh.route).toBe(`/webhooks/${APP_ID}/fresh-token/messages/555`);
    expect(fresh.auth).toBeUndefined();
    // Past 14 minutes: the channel message, with the bot token.
    const mid = discord.calls.length;
    await adapter.chat.upsertRunMessage({ run, webUrl: 'http://x/runs/R-1', refs: { discord_interaction: `old-token|${now - 14 * 60_000 - 1000}` } }).catch(() => undefined);
    const late = discord.calls.slice(mid)[0]!;
    expect(late.route).toBe('/channels/112233/messages/555');
    expect(late.auth).toBe(`Bot ${BOT}`);
    adapter.close?.();
  });

  it('registers the command through the REST API', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    // Asynchronously: the fake Discord API answering the CLI lives in this process.
    const { stdout: out } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/bots/discord/cli/register.ts', '--guild', '445566'], {
      env: { ...process.env, DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: BOT, DISCORD_API_URL: discord.apiUrl, DATA_DIR: tempDir('reg'), AUTODEVHUB_SECRET: 'x'.repeat(40) },
      encoding: 'utf8',
    }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`register failed: ${err.stderr ?? err.message}`);
    });
    expect(out).toMatch(/registered \/autodevhub \(1\) in server 445566/);
    const put = discord.calls.find((c) => c.method === 'PUT')!;
    expect(put.route).toBe(`/applications/${APP_ID}/guilds/445566/commands`);
    expect(put.auth).toBe(`Bot ${BOT}`);
  });
});
