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

/** Posts an activity with a valid channel token, or with the one given (`null`: none at all). */
async function post(url: string, activity: unknown, token?: string | null) {
  const auth = token === undefined ? await bf.token() : token;
  const res = await fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth && { authorization: `Bearer ${auth}` }) },
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

describe('Teams: authentication, end to end over HTTPS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...bf.env, AUTODEVHUB_CONFIG: config });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('answers a correctly signed activity, and its reply reaches the connector with a token issued to the bot', async () => {
    const before = bf.calls.length;
    const tokensBefore = bf.tokenRequests.length;
    const personal = { ...teamsMessage(bf.url, 'help story', 'aad-dev'), conversation: { conversationType: 'personal', id: 'a:1on1-signed', tenantId: 'tenant-1' } };
    expect((await post(t.url, personal)).status).toBe(200);
    const reply = await waitFor(() => bf.calls.slice(before).find((c) => c.conversationId === 'a:1on1-signed'), 5000, 'the reply');
    expect(String(reply.body.text)).toContain('@AutoDevHub story');
    expect(await bf.validBearer(reply.auth)).toBe(true);
    // The bot's token came from the token endpoint, for the connector, with the bot's secret.
    expect(bf.tokenRequests.length).toBeGreaterThan(0);
    expect(bf.tokenRequests.every((r) => r.ok && r.clientId === APP_ID && r.scope === 'https://api.botframework.com/.default')).toBe(true);
    expect(bf.refused).toEqual([]);
  });

  it('refuses unsigned, expired, wrong-audience, wrong-key, wrong-issuer and wrong-serviceurl activities with 401, and posts nothing', async () => {
    const activity = () => teamsMessage(bf.url, 'story As a user I want to export invoices so that accounting is easy');
    const runsBefore = await runCount(t);
    const callsBefore = bf.calls.length;
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ aud: APP_ID, serviceurl: bf.url, iss: `${bf.url}/botframework.com/v2.0`, exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')}.`;
    const forged: Array<[string, string | null]> = [
      ['no token', null],
      ['unsigned (alg none)', unsigned],
      ['expired', await bf.token({ expiresIn: '-10m' })],
      ['wrong audience', await bf.token({ aud: 'someone-else' })],
      ['wrong key', await bf.token({}, await bf.otherKey())],
      ['wrong issuer', await bf.token({ issuer: 'https://evil.example.com' })],
      // The token's serviceurl claim must be the activity's serviceUrl.
      ['wrong serviceurl claim', await bf.token({ serviceUrl: 'https://elsewhere.example.com' })],
    ];
    for (const [kind, token] of forged) {
      const res = await post(t.url, activity(), token);
      expect([kind, res.status, res.body.error]).toEqual([kind, 401, 'unauthorized']);
    }
    // Nothing was stored and nothing reached the connector.
    expect(await runCount(t)).toBe(runsBefore);
    expect(bf.calls.length).toBe(callsBefore);

    const ok = await post(t.url, activity());
    expect(ok.status).toBe(200);
    expect(await runCount(t)).toBe(runsBefore + 1);
  });

  it('answers 400 in words, not 500, for a signed body that is not an activity the SDK can read', async () => {
    const res = await post(t.url, { ...teamsMessage(bf.url, 'help'), conversation: 'not-an-object' });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_body']);
    const none = await post(t.url, { ...teamsMessage(bf.url, 'help'), conversation: {} });
    expect(none.status).toBe(400);
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

  // The one test that sets the flag: it must do what it says (no token checked, none sent).
  it('with TEAMS_ALLOW_UNAUTHENTICATED=true answers an unsigned activity and sends no token', async () => {
    bf.allowAnonymous(true);
    const t = await startTestApp({ TEAMS_ALLOW_UNAUTHENTICATED: 'true', AUTODEVHUB_CONFIG: config });
    try {
      const before = bf.calls.length;
      const personal = { ...teamsMessage(bf.url, 'help', 'aad-dev'), conversation: { conversationType: 'personal', id: 'a:1on1-anon', tenantId: 'tenant-1' } };
      expect((await post(t.url, personal, null)).status).toBe(200);
      const reply = await waitFor(() => bf.calls.slice(before).find((c) => c.conversationId === 'a:1on1-anon'), 5000, 'the reply');
      expect(reply.auth).toBeUndefined();
    } finally {
      bf.allowAnonymous(false);
      await t.stop();
    }
  });
});

describe('Teams: flows (signed activities, authenticated replies)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...bf.env, GITHUB_TOKEN: 'ghp_teams', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config });
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

  it('answers whoami and usage asked in a channel in a 1:1 chat it opens with the person, never in the channel', async () => {
    const before = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, 'whoami', 'aad-dev'))).status).toBe(200);
    const answer = await waitFor(() => bf.calls.slice(before).find((c) => String(c.body.text ?? '').includes('You are teams:aad-dev')), 5000, 'the private answer');
    // The conversation was created for that person alone (Teams gives the existing 1:1 back).
    const created = bf.calls.slice(before).find((c) => c.kind === 'create')!;
    expect([created.body.isGroup, created.body.members, created.body.tenantId]).toEqual([false, [{ id: '29:aad-dev', name: 'aad-dev' }], 'tenant-1']);
    expect(answer.conversationId).toBe(created.conversationId);
    expect(answer.body.text).toMatch(/\/link\?code=[\w-]+/);
    // No text in the channel (run cards of other tests may be updated there meanwhile).
    expect(bf.calls.slice(before).filter((c) => c.conversationId.startsWith('19:abc@thread.tacv2') && c.body.text)).toEqual([]);
    expect(await bf.validBearer(created.auth)).toBe(true);
    expect(await bf.validBearer(answer.auth)).toBe(true);

    const mid = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, 'frobnicate', 'aad-lead'))).status).toBe(200);
    const usage = await waitFor(() => bf.calls.slice(mid).find((c) => String(c.body.text ?? '').includes('Unknown command "frobnicate"')), 5000, 'usage reply');
    expect(usage.conversationId).toBe('a:1on1-29:aad-lead');
    expect(usage.body.text).toContain('@AutoDevHub story');
  });

  it('says in the channel that a private answer could not be delivered when Teams will not open the 1:1 chat, without the answer', async () => {
    bf.refuseOneToOne('29:aad-noapp');
    const before = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, 'whoami', 'aad-noapp'))).status).toBe(200);
    const note = await waitFor(() => bf.calls.slice(before).find((c) => String(c.body.text ?? '').includes('could not open a 1:1 chat')), 5000, 'the note');
    expect(note.conversationId).toBe(teamsMessage(bf.url, 'x').conversation.id);
    expect(note.body.text).not.toMatch(/You are|link\?code/);
  });

  it("refuses a typed command privately: the refusal goes to the person's 1:1 chat", async () => {
    const before = bf.calls.length;
    expect((await post(t.url, teamsMessage(bf.url, 'deploy production', 'aad-stranger'))).status).toBe(200);
    const refusal = await waitFor(() => bf.calls.slice(before).find((c) => /Not allowed/.test(String(c.body.text ?? ''))), 5000, 'the refusal');
    expect(refusal.conversationId).toBe('a:1on1-29:aad-stranger');
    // No text in the channel (run cards of other tests may be updated there meanwhile).
    expect(bf.calls.slice(before).filter((c) => c.conversationId.startsWith('19:abc@thread.tacv2') && c.body.text)).toEqual([]);
  });

  it('asks for approval with card actions; self-approval is refused to that person only; an approver deploys', async () => {
    expect((await post(t.url, teamsMessage(bf.url, 'deploy production', 'aad-dev'))).status).toBe(200);
    const approval = await waitFor(() => bf.calls.find((c) => c.method === 'POST' && JSON.stringify(c.body.attachments ?? '').includes('Approval needed')), 15_000, 'approval card');
    const ref = /R-\d+/.exec(JSON.stringify(approval.body.attachments))![0];
    // Universal Actions refresh: each viewer's client asks for their own version of the card.
    expect(approval.body.attachments[0].content.refresh.action).toMatchObject({ type: 'Action.Execute', verb: 'deploy_approval_refresh', data: { run: ref } });
    const refresh = async (user: string) => (await post(t.url, teamsAction(bf.url, 'deploy_approval_refresh', { run: ref }, user, 'automatic'))).body;
    const verbs = (card: Record<string, any>) => (card.value.actions as Array<{ verb?: string }>).map((a) => a.verb).filter(Boolean);
    const requester = await refresh('aad-dev');
    expect(requester.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(requester.value)).toContain('You requested this deploy; someone else must approve it.');
    expect(verbs(requester)).toEqual(['deploy_reject']);
    const lead = await refresh('aad-lead');
    expect(verbs(lead)).toEqual(['deploy_approve', 'deploy_reject']);
    expect(JSON.stringify(lead.value)).not.toContain('You ');
    const self = await post(t.url, teamsAction(bf.url, 'deploy_approve', { run: ref }, 'aad-dev'));
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(self.body.value).toMatch(/someone else must approve it/);
    const ok = await post(t.url, teamsAction(bf.url, 'deploy_approve', { run: ref }, 'aad-lead'));
    expect(ok.body.value).toBe('Done: approved.');
    const after = await refresh('aad-lead');
    expect(JSON.stringify(after.value)).toMatch(/You approved at \{\{TIME\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\}\}/);
    expect(verbs(after)).toEqual([]);
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
    t = await startTestApp({ ...bf.env, GITHUB_TOKEN: 'ghp_teams', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: file });
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
