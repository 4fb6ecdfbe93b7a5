import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { fixture, interactionBody, postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { getRun } from '../../src/core/runs/store.js';
import type { RunSummary } from '../../src/core/runs/model.js';
import { tempDir } from '../helpers/tmp.js';

const GH_TOKEN = 'ghp_test_token_autodevhub';
const SHA = { main: 'a'.repeat(40), release: 'b'.repeat(40), broken: 'c'.repeat(40), slow: 'd'.repeat(40), stuck: 'e'.repeat(40) };

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let trigger = 0;

function config(): string {
  const dir = tempDir('deploy');
  const file = join(dir, 'autodevhub.yaml');
  writeFileSync(
    file,
    `admins: ["slack:U0ADMIN"]
people:
  lee: { identities: ["slack:U0LEE"] }
groups:
  oncall: { members: ["slack:U0CALL"] }
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    roles: { maintainer: ["slack:U0DEV"], developer: ["slack:U0LEAD", "slack:U0OPS"] }
    allow_unlinked_channels: true
    environments:
      staging: { required_approvals: 0 }
      gated: { required_approvals: 0, required_checks: ["ci/build"], gate_timeout: 2s }
      production: { approvers: ["slack:U0LEAD", "slack:U0OPS"], required_approvals: 1, prevent_self_approval: true, timeout: 1h }
      critical: { approvers: ["slack:UA1", "slack:UA2", "slack:UA3", "slack:UA4", "slack:UA5"], required_approvals: 3, timeout: 1h }
      quick: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 2s }
      named: { approvers: ["lee", "group:oncall"], required_approvals: 2, timeout: 1h }
`,
  );
  return file;
}

async function slash(text: string, user = 'U0DEV') {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: user, channel_id: 'C0WEB', trigger_id: `deploy-${++trigger}-${Date.now()}` }));
  expect(res.status).toBe(200);
  const body = (await res.json()) as { text: string; response_type: string };
  return { ...body, ref: /R-\d+/.exec(body.text)?.[0] };
}

async function click(action: 'deploy_approve' | 'deploy_reject', ref: string, user: string) {
  const payload = fixture<Record<string, any>>('block-actions.json');
  payload.trigger_id = `click-${++trigger}-${Math.random()}`;
  payload.user = { ...payload.user, id: user };
  payload.channel = { id: 'C0WEB', name: 'web' };
  payload.container = { ...payload.container, channel_id: 'C0WEB' };
  // The value names the run only; the decider is the signed user above.
  payload.actions = [{ action_id: action, block_id: 'approval:x', type: 'button', value: ref, text: { type: 'plain_text', text: 'x' }, action_ts: '1712345690.1' }];
  const res = await postToSlack(t.url, interactionBody(payload));
  expect(res.status).toBe(200);
}

async function run(ref: string): Promise<RunSummary> {
  return getRun(t.app.context().em, ref);
}

async function until(ref: string, statuses: string[], timeoutMs = 20_000): Promise<RunSummary> {
  return waitFor(async () => {
    const r = await run(ref);
    return statuses.includes(r.status) && r;
  }, timeoutMs, `${ref} to be ${statuses.join('/')}`);
}

async function audits(ref: string): Promise<string[]> {
  const rows: Array<{ action: string }> = await t.app.context().em.getConnection().execute(`select action from audit_logs where target = ? order by id`, [ref]);
  return rows.map((r) => r.action);
}

const deploymentsOf = (ref: string) => github.deployments.filter((d) => d.payload.autodevhub_run === ref);
const ephemeralFor = (user: string) => slack.callsOf('chat.postEphemeral').filter((c) => c.args.user === user).map((c) => String(c.args.text));

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: SHA.main, 'v2.3.1': SHA.release, broken: SHA.broken, slow: SHA.slow, stuck: SHA.stuck });
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '200', AUTODEVHUB_CONFIG: config(),
  });
});
afterAll(async () => {
  await t?.stop();
  await github?.close();
  await slack?.close();
});
beforeEach(() => {
  github.setChecks(SHA.main, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'success' }]);
  github.setChecks(SHA.release, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'success' }, { name: 'lint', status: 'completed', conclusion: 'skipped' }]);
  github.setChecks(SHA.broken, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'failure' }]);
  github.setChecks(SHA.stuck, [], [{ name: 'test', status: 'completed', conclusion: 'success' }]);
  // GitHub's side of a deployment (an Actions workflow, say): in progress, then done.
  github.hooks.onDeploymentCreated = (d) => {
    github.addDeploymentStatus(d.id, 'in_progress');
    setTimeout(() => github.addDeploymentStatus(d.id, 'success', `https://${d.environment}.acme.test`), 300);
  };
});

describe('deploy: gate, deployment, report', () => {
  it('deploys a ref to an environment without approvals, and reports the URL in the thread', async () => {
    const ack = await slash('deploy staging v2.3.1');
    expect(ack.text).toMatch(/^Queued R-\d+: Deploy acme\/web to staging at v2.3.1/);
    const done = await until(ack.ref!, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ sha: SHA.release, ref: 'v2.3.1', deploymentUrl: 'https://staging.acme.test' });
    const [deployment] = deploymentsOf(ack.ref!);
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
    expect(deployment).toMatchObject({ sha: SHA.release, environment: 'staging', payload: { autodevhub_run: ack.ref } });
    const outcome = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).includes(`${ack.ref} deployed`)), 10_000, 'outcome post');
    expect(JSON.stringify(outcome.args.blocks)).toContain('https://staging.acme.test');
    const runMessage = slack.callsOf('chat.postMessage').find((c) => String(c.args.text).startsWith(`${ack.ref} · deploy`))!;
    expect(outcome.args.thread_ts).toBe(runMessage.ts);
    expect(await audits(ack.ref!)).toEqual(['deploy.requested', 'deploy.resolved', 'deploy.gate_passed', 'deploy.created', 'deploy.succeeded']);
    // The feed (and the widget) get the deployment's link with the final event, and in summaries.
    const events: Array<{ status: string; data: Record<string, any> | null }> = (await (await fetch(`${t.url}/api/v1/runs/${ack.ref}`, { headers: { cookie: await t.signIn() } })).json()).events;
    expect(events.at(-1)).toMatchObject({ status: 'succeeded', data: { links: { deployment: 'https://staging.acme.test' } } });
    expect(done.links).toMatchObject({ deployment: 'https://staging.acme.test' });
  });

  it('links a channel to a project, so commands there may leave out the repository', async () => {
    const other = async (text: string) =>
      (await (await postToSlack(t.url, slashCommandBody({ text, user_id: 'U0DEV', channel_id: 'C0OTHER', trigger_id: `link-${++trigger}` }))).json()) as { text: string };
    expect((await other('deploy staging')).text).toMatch(/not linked to a project: name the repository, as in "deploy acme\/web production"/);
    expect((await other('link acme/nope')).text).toMatch(/acme\/nope is not a configured project/);
    expect((await other('link acme/web')).text).toBe('This channel is now linked to acme/web (project web); commands here may leave out the repository.');
    const queued = await other('deploy staging');
    expect(queued.text).toMatch(/^Queued R-\d+: Deploy acme\/web to staging/);
    expect(await audits('slack:C0OTHER')).toEqual(['channel.linked']);
  });

  it('answers an unknown environment with the valid ones, and an unknown ref with a clear failure', async () => {
    const env = await slash('deploy moon');
    expect(env.text).toBe('acme/web has no environment "moon". Valid: staging, gated, production, critical, quick, named.');
    expect(env.response_type).toBe('ephemeral');
    const ref = await slash('deploy staging v9.9.9');
    const failed = await until(ref.ref!, ['failed']);
    expect(failed.error).toMatch(/GitHub knows no ref "v9.9.9" in acme\/web/);
    const repo = await slash('deploy acme/nope staging');
    expect(repo.text).toMatch(/acme\/nope is not a configured project/);
  });

  it('stops on failing checks, naming them with links, and deploys nothing', async () => {
    const ack = await slash('deploy staging broken');
    const failed = await until(ack.ref!, ['failed']);
    expect(failed.error).toMatch(/^Quality gate failed: test \(https:\/\/github.com\/acme\/web\/runs\/1\)/);
    expect(deploymentsOf(ack.ref!)).toHaveLength(0);
    expect(await audits(ack.ref!)).toContain('deploy.gate_failed');
  });

  it('waits for pending checks, polling, and goes on when they pass', async () => {
    github.setChecks(SHA.slow, [{ context: 'ci/build', state: 'pending' }], [{ name: 'test', status: 'in_progress' }]);
    const ack = await slash('deploy staging slow');
    await waitFor(async () => (await run(ack.ref!)).stage === 'gate' && github.requests.filter((r) => r.path.includes(`${SHA.slow}/status`)).length >= 2, 10_000, 'polling');
    expect((await run(ack.ref!)).status).toBe('running');
    github.setChecks(SHA.slow, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'success' }]);
    expect((await until(ack.ref!, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it('times out waiting for a required check that never reports, naming it', async () => {
    const ack = await slash('deploy gated stuck');
    const failed = await until(ack.ref!, ['failed'], 15_000);
    expect(failed.error).toMatch(/Quality gate timed out .* waiting for: ci\/build \(not reported yet\)/);
    expect(deploymentsOf(ack.ref!)).toHaveLength(0);
  });

  it('honours GitHub rate limiting (429 retry-after, 403 with x-ratelimit-reset) and carries on', async () => {
    github.rateLimitNext(/\/commits\/[^/]+\/status$/, '429');
    github.rateLimitNext(/\/check-runs$/, '403');
    const before = github.limited.length;
    const ack = await slash('deploy staging main');
    const done = await until(ack.ref!, ['succeeded', 'failed'], 25_000);
    expect(done.status).toBe('succeeded');
    expect(github.limited.length - before).toBe(2);
    for (const limited of github.limited.slice(before)) {
      const path = limited.path.split('?')[0]!;
      const retry = github.requests.find((r) => r.path.split('?')[0] === path && r.at > limited.at);
      expect(retry, `a retry of ${path}`).toBeDefined();
      expect(retry!.at - limited.at).toBeGreaterThanOrEqual(950);
    }
  });

  it('creates at most one GitHub deployment when the answer to "create" is lost and the job retries', async () => {
    github.hooks.failCreateOnce = true;
    const ack = await slash('deploy staging main');
    const done = await until(ack.ref!, ['succeeded', 'failed'], 30_000);
    expect(done.status).toBe('succeeded');
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
    const rows: unknown[] = await t.app.context().em.getConnection().execute(`select * from deployments where run_id = ?`, [done.id]);
    expect(rows).toHaveLength(1);
  }, 40_000);
});

describe('deploy: approvals', () => {
  it('asks the named approvers in the thread; refuses self-approval and non-approvers privately; an approver’s click deploys', async () => {
    const ack = await slash('deploy production v2.3.1', 'U0LEAD');
    const waiting = await until(ack.ref!, ['waiting_approval']);
    expect(waiting.stage).toBe('approval');
    const request = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).startsWith('Approval needed') && String(c.args.text).includes(ack.ref!)), 10_000, 'approval message');
    const blocks = JSON.stringify(request.args.blocks);
    expect(blocks).toContain('<@U0LEAD>, <@U0OPS>');
    expect(blocks).toContain('"action_id":"deploy_approve"');
    expect(blocks).toContain('"action_id":"deploy_reject"');
    // While waiting, no worker holds the run.
    expect(await t.app.queues.deploy.getActiveCount()).toBe(0);

    await click('deploy_approve', ack.ref!, 'U0LEAD');
    await waitFor(() => ephemeralFor('U0LEAD').some((m) => m.includes('someone else must approve it')), 5000, 'self-approval refusal');
    await click('deploy_approve', ack.ref!, 'U0RANDOM');
    await waitFor(() => ephemeralFor('U0RANDOM').some((m) => m.includes('not an approver for production')), 5000, 'non-approver refusal');
    expect((await run(ack.ref!)).status).toBe('waiting_approval');
    expect(deploymentsOf(ack.ref!)).toHaveLength(0);

    await click('deploy_approve', ack.ref!, 'U0OPS');
    const done = await until(ack.ref!, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
    // The approval message was edited in place: who decided, and no buttons any more.
    const edited = await waitFor(() => slack.callsOf('chat.update').filter((c) => c.args.ts === request.ts).find((c) => JSON.stringify(c.args.blocks).includes('approved by <@U0OPS>') && !JSON.stringify(c.args.blocks).includes('deploy_approve')), 10_000, 'approval edit');
    expect(edited).toBeDefined();
    const actions = await audits(ack.ref!);
    expect(actions).toEqual(expect.arrayContaining(['deploy.approval_requested', 'deploy.approve_refused', 'access.denied', 'deploy.approved', 'deploy.created', 'deploy.succeeded']));
    // Four-eyes (the requester) and the access check (not an approver) each refused once.
    expect(actions.filter((a) => a === 'deploy.approve_refused')).toHaveLength(1);
    expect(actions.filter((a) => a === 'access.denied')).toHaveLength(1);
  });

  it('takes approvers named as a person of autodevhub.yaml or as a group, and audits a rejection as deploy.rejected', async () => {
    const ack = await slash('deploy named v2.3.1');
    await until(ack.ref!, ['waiting_approval']);
    await click('deploy_approve', ack.ref!, 'U0LEE');
    await click('deploy_approve', ack.ref!, 'U0CALL');
    const done = await until(ack.ref!, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
    expect(ephemeralFor('U0LEE').concat(ephemeralFor('U0CALL')).filter((m) => m.includes('not an approver'))).toEqual([]);

    const other = await slash('deploy named v2.3.1');
    await until(other.ref!, ['waiting_approval']);
    await click('deploy_reject', other.ref!, 'U0CALL');
    expect((await until(other.ref!, ['failed', 'cancelled'])).status).not.toBe('succeeded');
    expect(await audits(other.ref!)).toContain('deploy.rejected');
  });

  it('one rejection ends the run, with the reason; nothing is deployed', async () => {
    const ack = await slash('deploy production');
    await until(ack.ref!, ['waiting_approval']);
    const reply = await slash(`reject ${ack.ref} tests are flaky today`, 'U0OPS');
    expect(reply.text).toBe(`${ack.ref} rejected.`);
    const failed = await until(ack.ref!, ['failed']);
    expect(failed.error).toBe('Rejected by slack:U0OPS: tests are flaky today');
    expect(deploymentsOf(ack.ref!)).toHaveLength(0);
    const late = await slash(`approve ${ack.ref}`, 'U0LEAD');
    expect(late.text).toMatch(/is not waiting for approval \(it is failed\)/);
  });

  it('expires when nobody decides in time', async () => {
    const ack = await slash('deploy quick');
    await until(ack.ref!, ['waiting_approval']);
    const failed = await until(ack.ref!, ['failed'], 15_000);
    expect(failed.error).toBe('Approval timed out');
    expect(await audits(ack.ref!)).toContain('deploy.expired');
  });

  it('can be cancelled while it waits, and not once it deploys', async () => {
    const ack = await slash('deploy production');
    await until(ack.ref!, ['waiting_approval']);
    expect((await slash(`cancel ${ack.ref}`, 'U0OPS')).text).toMatch(/^Not allowed: to cancel other people's runs in web you need the maintainer role \(or be the person who asked for R-\d+\)/);
    expect((await slash(`cancel ${ack.ref}`)).text).toBe(`${ack.ref} cancelled.`);
    expect((await run(ack.ref!)).status).toBe('cancelled');
    expect((await slash(`approve ${ack.ref}`, 'U0LEAD')).text).toMatch(/not waiting for approval/);
    expect(deploymentsOf(ack.ref!)).toHaveLength(0);

    github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, 'in_progress');
    const other = await slash('deploy production');
    await until(other.ref!, ['waiting_approval']);
    await slash(`approve ${other.ref}`, 'U0LEAD');
    await waitFor(async () => (await run(other.ref!)).stage === 'verify', 10_000, 'deploying');
    expect((await slash(`cancel ${other.ref}`)).text).toMatch(/already deploying/);
    const d = deploymentsOf(other.ref!)[0]!;
    github.addDeploymentStatus(d.id, 'failure');
    const failed = await until(other.ref!, ['failed']);
    expect(failed.error).toMatch(/The deployment ended in "failure"/);
  });

  it('counts twenty concurrent clicks once per person and deploys once', async () => {
    const ack = await slash('deploy critical');
    await until(ack.ref!, ['waiting_approval']);
    const approvers = ['UA1', 'UA2', 'UA3', 'UA4', 'UA5'];
    await Promise.all(Array.from({ length: 20 }, (_, i) => click('deploy_approve', ack.ref!, approvers[i % 5]!)));
    const done = await until(ack.ref!, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
    const rows: Array<{ person: string }> = await t.app.context().em.getConnection().execute(`select person from approvals where run_id = ?`, [done.id]);
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(new Set(rows.map((r) => r.person)).size).toBe(rows.length);
    const phaseJobs = await t.app.queues.deploy.getJobs(['completed', 'active', 'waiting', 'delayed']);
    expect(phaseJobs.filter((j) => j.id === t.app.queues.ids.run(done.id, 'deploy'))).toHaveLength(1);
  });

  it('a linked identity cannot approve its own deploy from another platform', async () => {
    const { linkIdentities } = await import('../../src/core/access/identities.js');
    // U0OPS on Slack is the same person as web:ops in the console.
    await linkIdentities(t.app.context().em, ['slack:U0OPS', 'web:ops']);
    const { requestDeploy } = await import('../../src/core/deploys/service.js');
    const created = await requestDeploy({ ctx: t.app.context(), actor: { id: 'web:ops', platform: 'web', channel: null } }, { repo: 'acme/web', environment: 'production', deliveryId: `linked-${Date.now()}` });
    await until(created.run.ref, ['waiting_approval']);
    await click('deploy_approve', created.run.ref, 'U0OPS');
    await waitFor(() => ephemeralFor('U0OPS').some((m) => m.includes(`You requested ${created.run.ref}`)), 5000, 'linked self-approval refused');
    expect((await run(created.run.ref)).status).toBe('waiting_approval');
    await slash(`cancel ${created.run.ref}`, 'U0ADMIN');
  });

  it('survives a restart while waiting: the approval still works and the deployment follows', async () => {
    const ack = await slash('deploy production main');
    await until(ack.ref!, ['waiting_approval']);
    await t.restart();
    expect((await run(ack.ref!)).status).toBe('waiting_approval');
    const reply = await slash(`approve ${ack.ref} ship it`, 'U0LEAD');
    expect(reply.text).toBe(`${ack.ref} approved; deploying.`);
    const done = await until(ack.ref!, ['succeeded', 'failed']);
    expect(done.status).toBe('succeeded');
    expect(deploymentsOf(ack.ref!)).toHaveLength(1);
  });
});
