import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeServer } from '../fakes/http.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { slackClick } from '../helpers/slack-clicks.js';
import { getRun } from '../../src/core/runs/store.js';
import type { DeployRun, RunSummary } from '../../src/core/runs/model.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The delivery flow through Slack and the API, against fake GitHub and Slack and a fake service
 * whose health endpoint answers for whatever commit is deployed: a commit promoted from staging
 * to production with smoke checks, a change summary on the approval card, promotion order
 * enforced, a failing smoke check that rolls back by itself, rollbacks asked for, and double
 * clicks that make one run.
 */

const GH_TOKEN = 'ghp_delivery_flow_token';
const SHA = { v1: '1'.repeat(40), v2: '2'.repeat(40), v3: '3'.repeat(40), bad: 'b'.repeat(40) };
const REFS = { v1: SHA.v1, v2: SHA.v2, v3: SHA.v3, bad: SHA.bad };

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let service: Awaited<ReturnType<typeof startFakeServer>>;
/** What each environment runs now, as the fake deployment platform set it. */
const deployed: Record<string, string> = {};
let deploymentOutcome: 'success' | 'failure' = 'success';
let trigger = 0;
let cookie: string;

async function slash(text: string, user = 'U0DEV') {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: user, channel_id: 'C0WEB', trigger_id: `flow-${++trigger}-${Date.now()}` }));
  expect(res.status).toBe(200);
  const body = (await res.json()) as { text: string; response_type: string };
  return { ...body, ref: /R-\d+/.exec(body.text)?.[0] };
}

const run = (ref: string) => getRun(t.app.context().em, ref) as Promise<DeployRun>;
async function until(ref: string, statuses: string[], timeoutMs = 45_000): Promise<DeployRun> {
  return waitFor(async () => {
    const r = await run(ref);
    return statuses.includes(r.status) && r;
  }, timeoutMs, `${ref} to be ${statuses.join('/')}`);
}
async function deployRuns(): Promise<RunSummary[]> {
  const rows: Array<{ number: number }> = await t.app.context().em.getConnection().execute(`select number from workflow_runs where kind = 'deploy' order by id`);
  return Promise.all(rows.map((r) => getRun(t.app.context().em, `R-${r.number}`)));
}
async function audits(ref: string): Promise<string[]> {
  const rows: Array<{ action: string }> = await t.app.context().em.getConnection().execute(`select action from audit_logs where target = ? order by id`, [ref]);
  return rows.map((r) => r.action);
}
const posts = () => slack.callsOf('chat.postMessage');
const postFor = (ref: string, start: string) => waitFor(() => posts().find((c) => String(c.args.text).startsWith(start) && String(c.args.text).includes(ref)), 15_000, `"${start}" for ${ref}`);
const click = (action: string, value: string, user: string) => slackClick(t.url, { action, value, user, channel: 'C0WEB' });

function config(healthUrl: string): string {
  const dir = tempDir('flow');
  const file = join(dir, 'autodevhub.yaml');
  writeFileSync(
    file,
    `admins: ["slack:U0ADMIN"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    # Everyone in the channel may deploy, promote, roll back and export here; approvals still gate.
    roles: { developer: ["*"] }
    promotion: [staging, production]
    environments:
      staging:
        required_approvals: 0
        smoke_check: { url: "${healthUrl}/staging/health", timeout: 2s, retries: 1, interval: 1s }
        auto_rollback: true
      production:
        approvers: ["slack:U0LEAD", "slack:U0OPS"]
        required_approvals: 1
        requires: staging
        smoke_check: { url: "${healthUrl}/production/health", timeout: 2s, retries: 0, github_status: true }
`,
  );
  return file;
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', REFS);
  for (const sha of Object.values(SHA)) github.setChecks(sha, [{ context: 'ci/build', state: 'success' }]);
  // The deployment platform: it deploys, then reports; the service answers for what runs.
  github.hooks.onDeploymentCreated = (d) => {
    github.addDeploymentStatus(d.id, 'in_progress');
    setTimeout(() => {
      if (deploymentOutcome === 'success') deployed[d.environment] = d.sha;
      github.addDeploymentStatus(d.id, deploymentOutcome, `https://${d.environment}.acme.test`);
    }, 200);
  };
  service = await startFakeServer((req, res) => {
    const env = req.path.split('/')[1]!;
    const healthy = deployed[env] !== SHA.bad;
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(healthy ? 'ok' : 'database unreachable');
  });
  github.setCompare(SHA.v1, SHA.v2, [
    { filename: 'src/api/orders.ts', status: 'modified', additions: 20, deletions: 3 },
    { filename: 'src/api/invoices.ts', status: 'added', additions: 80, deletions: 0 },
    { filename: 'migrations/0042_add_invoice_totals.sql', status: 'added', additions: 12, deletions: 0 },
    { filename: 'package.json', status: 'modified', additions: 1, deletions: 1 },
    { filename: '.github/workflows/ci.yml', status: 'modified', additions: 2, deletions: 1 },
  ], [
    { sha: 'c1'.padEnd(40, '0'), message: 'Add invoice totals\n\nLong body', author: 'Ann Lee' },
    { sha: 'c2'.padEnd(40, '0'), message: 'Upgrade pg to 8.20', author: 'Bob Roy' },
  ]);
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '150', AUTODEVHUB_CONFIG: config(service.url),
  });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await github?.close();
  await slack?.close();
  await service?.close();
});

describe('promotion with smoke checks and a change summary', () => {
  it('promotes a staging commit to production through the Promote button, the approval card listing what changes', async () => {
    const first = await slash('deploy staging v1');
    const staged = await until(first.ref!, ['succeeded', 'failed']);
    expect(staged.status).toBe('succeeded');
    expect(staged.result.verification).toMatchObject({ passed: true, checks: [{ kind: 'http', ok: true }] });
    // The outcome offers the next step of the pipeline.
    const outcome = await postFor(first.ref!, `${first.ref} deployed`);
    expect(JSON.stringify(outcome.args.blocks)).toContain('"action_id":"deploy_promote"');
    expect(JSON.stringify(outcome.args.blocks)).toContain('Promote to production');
    expect(JSON.stringify(outcome.args.blocks)).toContain('GET ' + service.url + '/staging/health: HTTP 200');

    expect(await click('deploy_promote', first.ref!, 'U0DEV')).toBe(200);
    const promoted = await waitFor(async () => (await deployRuns()).find((r) => r.kind === 'deploy' && r.input.promotedFrom === first.ref), 10_000, 'the promotion run');
    const waiting = await until(promoted.ref, ['waiting_approval']);
    expect(waiting.input).toMatchObject({ environment: 'production', sha: SHA.v1, trigger: 'promote' });
    expect(waiting.result.changes).toMatchObject({ direction: 'first', headSha: SHA.v1 });
    await click('deploy_approve', promoted.ref, 'U0LEAD');
    const live = await until(promoted.ref, ['succeeded', 'failed']);
    expect(live.status).toBe('succeeded');
    expect(live.result.verification?.checks.map((c) => c.kind)).toEqual(['http', 'github_status']);

    // v2 goes to staging, then four people press Promote at once: one production run.
    const second = await slash('deploy staging v2');
    expect((await until(second.ref!, ['succeeded', 'failed'])).status).toBe('succeeded');
    await Promise.all(['U0DEV', 'U0OPS', 'U0QA', 'U0PM'].map((u) => click('deploy_promote', second.ref!, u)));
    const promotionsOf = async () => (await deployRuns()).filter((r) => r.kind === 'deploy' && r.input.promotedFrom === second.ref);
    await waitFor(async () => (await promotionsOf()).length > 0, 15_000, 'a promotion');
    await new Promise((r) => setTimeout(r, 1000));
    const promotions = await promotionsOf();
    expect(promotions).toHaveLength(1);
    const v2prod = await until(promotions[0]!.ref, ['waiting_approval']);
    expect(v2prod.result.changes).toMatchObject({
      direction: 'forward', baseSha: SHA.v1, headSha: SHA.v2, commitCount: 2, authors: ['Ann Lee', 'Bob Roy'], fileCount: 5, generator: 'offline summariser',
    });
    expect(v2prod.result.changes!.risks.map((r) => r.kind)).toEqual(['migrations', 'dependencies', 'ci']);
    expect(v2prod.result.changes!.areas[0]).toMatchObject({ area: 'src/api', files: 2 });
    expect(v2prod.result.changes!.summary).toMatch(/brings 2 commits by Ann Lee and Bob Roy across 5 files, mostly in src\/api \(2 files\)/);

    // The approval card in the thread says what changes.
    const card = await postFor(v2prod.ref, 'Approval needed');
    const blocks = JSON.stringify(card.args.blocks);
    expect(blocks).toContain('*What changes:*');
    expect(blocks).toContain('Brings 2 commits (1111111…2222222) by Ann Lee, Bob Roy · 5 files');
    expect(blocks).toContain('Add invoice totals (Ann Lee)');
    expect(blocks).toContain('Upgrade pg to 8.20 (Bob Roy)');
    expect(blocks).toContain('*Risk notes*');
    expect(blocks).toContain('Database migrations');
    expect(blocks).toContain('migrations/0042_add_invoice_totals.sql');
    expect(blocks).toContain('Summary by the offline summariser');
    expect(blocks).toContain(`Promotion of ${second.ref}`);

    // The web feed gets the same summary with the approval event, and the API keeps it with the run.
    const detail = (await (await fetch(`${t.url}/api/v1/runs/${v2prod.ref}`, { headers: { cookie } })).json()) as { run: DeployRun; events: Array<{ status: string; data: Record<string, any> | null }> };
    expect(detail.events.find((e) => e.status === 'waiting_approval')!.data!.changes.commits).toHaveLength(2);
    expect(detail.run.result.changes!.commitCount).toBe(2);

    // Whichever of the four clicks won asked for the promotion; an approver who did not approves.
    const approver = v2prod.requestedBy === 'slack:U0OPS' ? 'U0LEAD' : 'U0OPS';
    await click('deploy_approve', v2prod.ref, approver);
    expect((await until(v2prod.ref, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect(await audits(v2prod.ref)).toEqual(expect.arrayContaining(['deploy.promotion_requested', 'deploy.approved', 'deploy.succeeded']));
  }, 180_000);

  it('refuses a production deploy of a commit that has not succeeded in staging, with the reason', async () => {
    const ack = await slash('deploy production v3');
    const failed = await until(ack.ref!, ['failed']);
    expect(failed.error).toBe('production only takes commits that have succeeded in staging, and 3333333 has not. Deploy it to staging first, then promote that run.');
    expect(github.deployments.filter((d) => d.payload.autodevhub_run === ack.ref)).toHaveLength(0);
    expect(await audits(ack.ref!)).toContain('deploy.requires_refused');
    // Promoting the last step, or a run that failed, is refused at once with words.
    const prod = (await deployRuns()).find((r) => r.kind === 'deploy' && r.input.environment === 'production' && r.status === 'succeeded')!;
    expect((await slash(`promote ${prod.ref}`)).text).toBe("production is the last step of web's promotion pipeline (staging → production).");
    expect((await slash(`promote ${ack.ref}`)).text).toMatch(/has not succeeded \(it is failed\); only a successful deploy can be promoted/);
  }, 90_000);
});

describe('rollback', () => {
  it('rolls back by itself when the smoke check fails, and says so in the thread', async () => {
    const good = deployed.staging;
    const ack = await slash('deploy staging bad');
    const failed = await until(ack.ref!, ['failed'], 30_000);
    expect(failed.error).toMatch(new RegExp(`^Smoke check failed: GET ${service.url}/staging/health: HTTP 503 Service Unavailable: database unreachable, 2 attempt\\(s\\); rolling back to ${good!.slice(0, 7)} as R-\\d+$`));
    expect(failed.result.verification).toMatchObject({ passed: false, checks: [{ ok: false, attempts: [{ status: 503 }, { status: 503 }] }] });
    const rollbackRef = failed.result.rolledBackBy!;
    const rollback = await until(rollbackRef, ['succeeded', 'failed'], 30_000);
    expect(rollback.status).toBe('succeeded');
    expect(rollback.input).toMatchObject({ trigger: 'auto_rollback', rollbackOf: ack.ref, sha: good, environment: 'staging' });
    expect(deployed.staging).toBe(good);
    // In the failed run's thread: the failure with what came back, then the rollback's own messages.
    const runMessage = await postFor(ack.ref!, `${ack.ref} · deploy`);
    const failure = await postFor(ack.ref!, `${ack.ref} did not deploy`);
    expect(failure.args.thread_ts).toBe(runMessage.ts);
    expect(String(failure.args.text)).toContain('HTTP 503');
    expect(String(failure.args.text)).toContain(`rolling back to ${good!.slice(0, 7)} as ${rollbackRef}`);
    // Nothing more to press: the rollback is already under way.
    expect(JSON.stringify(failure.args.blocks)).not.toContain('deploy_rollback');
    const rollbackMessage = await postFor(rollbackRef, `${rollbackRef} · deploy`);
    expect(rollbackMessage.args.thread_ts).toBe(runMessage.ts);
    expect(await audits(ack.ref!)).toEqual(expect.arrayContaining(['deploy.verify_failed']));
    expect(await audits(rollbackRef)).toEqual(expect.arrayContaining(['deploy.rollback_requested', 'deploy.succeeded']));
  }, 120_000);

  it('rolls back on request, from the command and from the Roll back button, once despite a double click', async () => {
    const before = deployed.staging!;
    const ack = await slash('rollback staging');
    expect(ack.text).toMatch(/^Queued R-\d+: Roll back acme\/web staging from/);
    const rolled = await until(ack.ref!, ['succeeded', 'failed']);
    expect(rolled.status).toBe('succeeded');
    expect(rolled.input.sha).not.toBe(before);
    expect(deployed.staging).toBe(rolled.input.sha);

    // A deploy whose deployment fails offers Roll back; two clicks make one rollback.
    deploymentOutcome = 'failure';
    const broken = await slash('deploy staging v2');
    const failed = await until(broken.ref!, ['failed']);
    deploymentOutcome = 'success';
    expect(failed.error).toMatch(/The deployment ended in "failure"/);
    const outcome = await postFor(broken.ref!, `${broken.ref} did not deploy`);
    expect(JSON.stringify(outcome.args.blocks)).toContain('"action_id":"deploy_rollback"');
    await Promise.all(['U0DEV', 'U0OPS', 'U0QA'].map((u) => click('deploy_rollback', broken.ref!, u)));
    const rollbacksOf = async () => (await deployRuns()).filter((r) => r.kind === 'deploy' && r.input.rollbackOf === broken.ref);
    await waitFor(async () => (await rollbacksOf()).length > 0, 15_000, 'a rollback');
    await new Promise((r) => setTimeout(r, 1000));
    const rollbacks = await rollbacksOf();
    expect(rollbacks).toHaveLength(1);
    expect((await until(rollbacks[0]!.ref, ['succeeded', 'failed'])).status).toBe('succeeded');
    // The second clicker is told, privately.
    await waitFor(() => slack.callsOf('chat.postEphemeral').some((c) => String(c.args.text).includes('already being rolled back')), 5000, 'duplicate notice');
  }, 120_000);

  it('answers a rollback with nothing to go back to, and takes promote and rollback through the API', async () => {
    expect((await slash('rollback production acme/nope')).text).toMatch(/acme\/nope is not a configured project/);
    expect((await slash('rollback moon')).text).toMatch(/has no environment "moon"/);
    expect((await slash('rollback')).text).toMatch(/Name the environment to roll back/);
    const api = (text: string) => fetch(`${t.url}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
    const res = await api('rollback production web');
    expect(res.status).toBe(202);
    const body = (await res.json()) as { run: DeployRun };
    expect(body.run.input).toMatchObject({ environment: 'production', trigger: 'rollback', sha: SHA.v1 });
    // The same rollback again while it runs is that run, not a second one.
    const again = await api('rollback production web');
    expect(again.status).toBe(200);
    expect(((await again.json()) as { run: DeployRun; duplicate: boolean }).run.ref).toBe(body.run.ref);
    const waiting = await until(body.run.ref, ['waiting_approval']);
    expect(waiting.result.changes).toMatchObject({ direction: 'rollback', baseSha: SHA.v2, headSha: SHA.v1 });
    await click('deploy_approve', body.run.ref, 'U0LEAD');
    expect((await until(body.run.ref, ['succeeded', 'failed'])).status).toBe('succeeded');
  }, 120_000);
});
