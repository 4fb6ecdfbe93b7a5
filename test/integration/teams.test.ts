import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeBotFramework, teamsAction, teamsMessage } from '../fakes/botframework.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';
import { getRun } from '../../src/core/runs/store.js';
import { tempDir } from '../helpers/tmp.js';

const APP_ID = 'bot-app-id';
const SHA = '9'.repeat(40);
let bf: Awaited<ReturnType<typeof startFakeBotFramework>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let config: string;

async function post(url: string, activity: unknown, token?: string) {
  const res = await fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(activity),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

async function runCount(t: TestApp): Promise<number> {
  const rows: Array<{ n: string }> = await t.app.context().em.getConnection().execute(`select count(*) as n from workflow_runs`);
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  bf = await startFakeBotFramework();
  github = await startFakeGitHub({ token: 'ghp_teams' });
  github.addRepo('acme/web', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, 'success', 'https://production.acme.test');
  const dir = tempDir('teams');
  config = join(dir, 'autodevhub.yaml');
  writeFileSync(config, `projects:
  - key: web
    repo: acme/web
    channels: ["teams:19:abc@thread.tacv2"]
    roles: { developer: ["teams:aad-dev", "teams:aad-lead"] }
    environments:
      production: { approvers: ["teams:aad-lead", "teams:aad-dev"], required_approvals: 1, prevent_self_approval: true }
`);
});
afterAll(async () => {
  await bf?.close();
  await github?.close();
});

describe('Teams: authentication', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'app-password', BOTFRAMEWORK_OPENID_METADATA_URL: bf.openIdUrl, AUTODEVHUB_CONFIG: config });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('refuses activities without a valid Bot Framework token, and accepts a valid one', async () => {
    const activity = () => teamsMessage(bf.url, 'story As a user I want to export invoices so that accounting is easy');
    const before = await runCount(t);
    expect((await post(t.url, activity())).status).toBe(401);
    expect((await post(t.url, activity(), await bf.token({ aud: APP_ID, serviceUrl: bf.url }, await bf.otherKey()))).status).toBe(401);
    expect((await post(t.url, activity(), await bf.token({ aud: 'someone-else', serviceUrl: bf.url }))).status).toBe(401);
    expect((await post(t.url, activity(), await bf.token({ aud: APP_ID, serviceUrl: bf.url, expiresIn: '-10m' }))).status).toBe(401);
    expect((await post(t.url, activity(), await bf.token({ aud: APP_ID, serviceUrl: bf.url, issuer: 'https://evil.example.com' }))).status).toBe(401);
    // The token's serviceurl claim must match the activity's serviceUrl.
    expect((await post(t.url, activity(), await bf.token({ aud: APP_ID, serviceUrl: 'https://elsewhere.example.com' }))).status).toBe(401);
    expect(await runCount(t)).toBe(before);
    const ok = await post(t.url, activity(), await bf.token({ aud: APP_ID, serviceUrl: bf.url }));
    expect(ok.status).toBe(200);
    expect(await runCount(t)).toBe(before + 1);
  });
});

describe('Teams: refusing to run unauthenticated by accident', () => {
  it('is switched off without an app id unless the local-testing flag is set', async () => {
    const t = await startTestApp({ AUTODEVHUB_CONFIG: config });
    try {
      const res = await post(t.url, teamsMessage(bf.url, 'help'));
      expect(res.status).toBe(503);
      expect(res.body.message).toMatch(/MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD/);
    } finally {
      await t.stop();
    }
  });
});

describe('Teams: flows (local-testing mode, TEAMS_ALLOW_UNAUTHENTICATED=true)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TEAMS_ALLOW_UNAUTHENTICATED: 'true', GITHUB_TOKEN: 'ghp_teams', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('runs a story: a card posted proactively, updated in place, the story card as a reply', async () => {
    const msg = teamsMessage(bf.url, 'story As a shopper I want to save my cart so that I can buy later');
    expect((await post(t.url, msg)).status).toBe(200);
    const storyPost = await waitFor(() => bf.calls.find((c) => c.method === 'POST' && JSON.stringify(c.body.attachments ?? '').includes('User story: ')), 15_000, 'story card');
    const card = storyPost.body.attachments[0].content;
    const gherkin = card.body.find((b: { fontType?: string }) => b.fontType === 'Monospace').text as string;
    expect(checkGherkin(gherkin).ok).toBe(true);
    expect(JSON.stringify(card)).toContain('offline generator');
    expect(card.actions.map((a: { verb?: string }) => a.verb).filter(Boolean)).toEqual(['story_accept', 'story_regenerate', 'story_pr']);
    const runCardPost = bf.calls.find((c) => c.method === 'POST' && JSON.stringify(c.body.attachments ?? '').includes('· story ·'))!;
    expect(storyPost.body.replyToId).toBeDefined();
    // The run card ends on "succeeded": posted so when the run finished within its first second
    // (progress waits that long), else updated in place.
    await waitFor(() => bf.calls.find((c) => (c.method === 'PUT' || c === runCardPost) && JSON.stringify(c.body).includes('succeeded')), 10_000, 'card final');
    expect(runCardPost.conversationId).toBe(msg.conversation.id);

    // Open PR from the card: the invoke answers with the card redrawn with the link; a second click is told it exists.
    const storyId = card.actions.find((a: { verb?: string }) => a.verb === 'story_pr').data.story as number;
    const pullsBefore = github.pulls.length;
    const opened = await post(t.url, teamsAction(bf.url, 'story_pr', { story: storyId }, 'aad-dev'));
    expect(opened.body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(opened.body.value)).toContain('https://github.com/acme/web/pull/');
    expect(opened.body.value.actions.map((a: { verb?: string }) => a.verb)).not.toContain('story_pr');
    const again = await post(t.url, teamsAction(bf.url, 'story_pr', { story: storyId }, 'aad-lead'));
    expect(again.body.value).toMatch(/^Already there for this story version: https:\/\/github.com\/acme\/web\/pull\/\d+$/);
    expect(github.pulls.length - pullsBefore).toBe(1);
  });

  it('makes one run for a repeated delivery of the same activity', async () => {
    const before = await runCount(t);
    const msg = teamsMessage(bf.url, 'story As an editor I want to archive drafts', 'aad-dev', { id: 'repeat-1' });
    await post(t.url, msg);
    await post(t.url, msg);
    expect(await runCount(t)).toBe(before + 1);
  });

  it('gives the whoami link only in a 1:1 chat: in a channel everyone would see it', async () => {
    const before = bf.calls.length;
    await post(t.url, teamsMessage(bf.url, 'whoami', 'aad-dev'));
    const inChannel = await waitFor(() => bf.calls.slice(before).find((c) => String(c.body.text ?? '').includes('You are teams:aad-dev')), 5000, 'the channel answer');
    expect(inChannel.body.text).not.toContain('/link?code=');
    expect(inChannel.body.text).toContain('in Teams: a 1:1 chat with AutoDevHub');

    const personal = { ...teamsMessage(bf.url, 'whoami', 'aad-dev'), conversation: { conversationType: 'personal', id: 'a:1on1-aad-dev', tenantId: 'tenant-1' } };
    const mid = bf.calls.length;
    await post(t.url, personal);
    const oneToOne = await waitFor(() => bf.calls.slice(mid).find((c) => String(c.body.text ?? '').includes('You are teams:aad-dev')), 5000, 'the 1:1 answer');
    expect(oneToOne.conversationId).toBe('a:1on1-aad-dev');
    expect(oneToOne.body.text).toMatch(/\/link\?code=[\w-]+/);
  });

  it('answers usage for an unknown command in the conversation', async () => {
    const before = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, 'frobnicate'))).status).toBe(200);
    const reply = await waitFor(() => bf.calls.slice(before).find((c) => String(c.body.text ?? '').includes('Unknown command "frobnicate"')), 5000, 'usage reply');
    expect(reply.body.text).toContain('@AutoDevHub story');
  });

  it('asks for approval with card actions; self-approval is refused to that person only; an approver deploys', async () => {
    expect((await post(t.url, teamsMessage(bf.url, 'deploy production', 'aad-dev'))).status).toBe(200);
    const approval = await waitFor(() => bf.calls.find((c) => c.method === 'POST' && JSON.stringify(c.body.attachments ?? '').includes('Approval needed')), 15_000, 'approval card');
    const ref = /R-\d+/.exec(JSON.stringify(approval.body.attachments))![0];
    const self = await post(t.url, teamsAction(bf.url, 'deploy_approve', { run: ref }, 'aad-dev'));
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(self.body.value).toMatch(/someone else must approve it/);
    const ok = await post(t.url, teamsAction(bf.url, 'deploy_approve', { run: ref }, 'aad-lead'));
    expect(ok.body.value).toBe('Done: approved.');
    const run = await waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed'].includes(r.status) && r;
    }, 15_000, 'deploy');
    expect(run.status).toBe('succeeded');
    expect(run.requestedBy).toBe('teams:aad-dev');
    expect(github.deployments.filter((d) => d.payload.autodevhub_run === ref)).toHaveLength(1);
  });
});

describe('Teams: the Promote and Roll back buttons', () => {
  const SHA2 = '8'.repeat(40);
  let t: TestApp;
  let outcome = 'success';
  let from = 0;
  const cardsSince = () => bf.calls.slice(from).filter((c) => c.method === 'POST' || c.method === 'PUT');
  /** The latest card of a run that offers this button. */
  const buttonOn = (ref: string, verb: string) =>
    waitFor(() => cardsSince().find((c) => JSON.stringify(c.body).includes(`"verb":"${verb}"`) && JSON.stringify(c.body).includes(`"run":"${ref}"`)), 20_000, `${verb} on ${ref}`);
  const finished = (ref: string) =>
    waitFor(async () => {
      const r = await getRun(t.app.context().em, ref);
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) && r;
    }, 20_000, `${ref} to finish`);
  async function deployFromChat(text: string): Promise<string> {
    const before = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, text, 'aad-dev'))).status).toBe(200);
    const card = await waitFor(() => bf.calls.slice(before).find((c) => c.method === 'POST' && JSON.stringify(c.body).includes('· deploy ·')), 15_000, `the card of "${text}"`);
    return /R-\d+/.exec(JSON.stringify(card.body))![0];
  }

  beforeAll(async () => {
    github.addRepo('acme/shop', { main: SHA, v2: SHA2 });
    github.setChecks(SHA2, [{ context: 'ci/build', state: 'success' }]);
    github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, outcome, `https://${d.environment}.shop.test`);
    const file = join(tempDir('teams-flow'), 'autodevhub.yaml');
    writeFileSync(file, `projects:
  - key: shop
    repo: acme/shop
    channels: ["teams:19:abc@thread.tacv2"]
    roles: { developer: ["teams:aad-dev", "teams:aad-lead"] }
    promotion: [staging, production]
    environments:
      staging: { required_approvals: 0 }
      production: { approvers: ["teams:aad-lead"], required_approvals: 1, requires: staging }
`);
    t = await startTestApp({ TEAMS_ALLOW_UNAUTHENTICATED: 'true', GITHUB_TOKEN: 'ghp_teams', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: file });
    from = bf.calls.length;
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('promotes the very commit from staging to production through the button, once for two clicks, after its approval', async () => {
    const staging = await deployFromChat('deploy staging');
    expect((await finished(staging)).status).toBe('succeeded');
    await buttonOn(staging, 'deploy_promote');

    const click = await post(t.url, teamsAction(bf.url, 'deploy_promote', { run: staging }, 'aad-dev'));
    expect(click.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(click.body.value).toMatch(/^Queued R-\d+: /);
    const production = /R-\d+/.exec(click.body.value)![0];
    const again = await post(t.url, teamsAction(bf.url, 'deploy_promote', { run: staging }, 'aad-lead'));
    expect(again.body.value).toBe(`Already under way: ${production}.`);

    await buttonOn(production, 'deploy_approve');
    expect((await post(t.url, teamsAction(bf.url, 'deploy_approve', { run: production }, 'aad-lead'))).body.value).toBe('Done: approved.');
    const done = await finished(production);
    expect(done.status).toBe('succeeded');
    expect([done.requestedBy, done.input.environment, done.input.sha]).toEqual(['teams:aad-dev', 'production', SHA]);
    expect(github.deployments.filter((d) => d.payload.autodevhub_run === production).map((d) => [d.environment, d.sha])).toEqual([['production', SHA]]);
  }, 90_000);

  it('offers Roll back on a failed deploy and redeploys the last good commit; someone without a role is refused in words', async () => {
    outcome = 'failure';
    const broken = await deployFromChat('deploy staging v2');
    const failed = await finished(broken);
    outcome = 'success';
    expect([failed.status, failed.error]).toEqual(['failed', 'The deployment ended in "failure": https://staging.shop.test']);
    await buttonOn(broken, 'deploy_rollback');

    const stranger = await post(t.url, teamsAction(bf.url, 'deploy_rollback', { run: broken }, 'aad-stranger'));
    expect(stranger.body.value).toMatch(/^Not allowed: to roll back a deployment in shop \(staging\) you need the developer role/);

    const click = await post(t.url, teamsAction(bf.url, 'deploy_rollback', { run: broken }, 'aad-dev'));
    expect(click.body.value).toMatch(/^Queued R-\d+: Roll back acme\/shop staging from 8888888 /);
    const rollback = /R-\d+/.exec(click.body.value)![0];
    const done = await finished(rollback);
    expect([done.status, done.input.sha, done.input.rollbackOf]).toEqual(['succeeded', SHA, broken]);
    // The rollback's card goes to the same conversation, proactively.
    const card = await waitFor(() => cardsSince().find((c) => c.method === 'POST' && JSON.stringify(c.body).includes(rollback)), 10_000, 'the rollback card');
    expect(card.conversationId).toBe(teamsMessage(bf.url, 'x').conversation.id);
  }, 90_000);
});
