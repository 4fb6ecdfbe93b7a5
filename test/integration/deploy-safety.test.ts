import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub, type FakeDeployment } from '../fakes/github-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { createApiToken } from '../../src/core/access/api-tokens.js';
import { getRun } from '../../src/core/runs/store.js';
import type { RunSummary } from '../../src/core/runs/model.js';
import { tempDir } from '../helpers/tmp.js';
import { client } from '../helpers/client-cli.js';

/**
 * Deploy safety (issue 27) end to end, through the API and Slack against the running app with
 * the fake GitHub: one deploy at a time per environment (ten people at once, from two processes
 * that are both web and worker), the promote/rollback race of issue 22 item 3, locks, freezes
 * (one that begins while a deploy waits for approval), branch rules, soak and wait timers,
 * overrides, and restarts in the waiting states.
 */

const GH_TOKEN = 'ghp_test_token_safety';
const SHA = { v1: '1'.repeat(40), v3: '3'.repeat(40), v4: '4'.repeat(40), feature: 'f'.repeat(40) };
const ZONE = 'Europe/Berlin';
const USERS = Array.from({ length: 10 }, (_, i) => `UD${i}`);

let t: TestApp;
let t2: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
const tokens: Record<string, string> = {};
const configFile = join(tempDir('safety'), 'autodevhub.yaml');
let n = 0;

const local = (ms: number) => DateTime.fromMillis(ms, { zone: ZONE }).toFormat('yyyy-MM-dd HH:mm:ss');

/**
 * How far ahead the freezes that begin during a test start: more than two restarts of the app take
 * on a busy machine, so the deploys are asked for before the freeze, whatever the load.
 */
const LEAD_MS = 15_000;

/** The file, with freezes placed relative to `now` (rewritten and reloaded by a restart where a test needs fresh times). */
function writeConfig(now = Date.now()): void {
  writeFileSync(
    configFile,
    `admins: ["slack:U0ADMIN"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    time_zone: ${ZONE}
    promotion: [staging, production]
    roles: { developer: [${[...USERS, 'U0LEAD', 'U0OPS'].map((u) => `"slack:${u}"`).join(', ')}] }
    environments:
      staging: { required_approvals: 0 }
      production: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 1h, refs: [main, "v*"] }
      frozen:
        freezes: [{ name: holiday freeze, from: "${local(now - 3_600_000)}", until: "${local(now + 2 * 86_400_000)}" }]
      thaw:
        approvers: ["slack:U0LEAD"]
        required_approvals: 1
        timeout: 1h
        freezes: [{ name: change freeze, from: "${local(now + LEAD_MS)}", until: "${local(now + LEAD_MS + 6_000)}" }]
      late:
        approvers: ["slack:U0LEAD"]
        required_approvals: 1
        timeout: ${(LEAD_MS + 4_000) / 1000}s
        freezes: [{ name: long freeze, from: "${local(now + LEAD_MS)}", until: "${local(now + 86_400_000)}" }]
      soaked: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 1h, soak_time: 6s, soak_in: staging, wait_timer: 1s }
      timed: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 1h, wait_timer: 3s }
`,
  );
}

async function api(text: string, user: string, app: TestApp = t, project?: string): Promise<{ status: number; text: string; ref?: string; body: Record<string, any> }> {
  const res = await fetch(`${app.url}/api/v1/commands`, { method: 'POST', headers: { authorization: `Bearer ${tokens[user]}`, 'content-type': 'application/json' }, body: JSON.stringify({ text, ...(project && { project }) }) });
  const body = (await res.json()) as Record<string, any>;
  const said = String(body.text ?? body.message ?? '');
  return { status: res.status, text: said, body, ...(body.run?.ref && { ref: body.run.ref }) };
}

async function slash(text: string, user: string) {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: user, channel_id: 'C0WEB', trigger_id: `safety-${++n}-${Date.now()}` }));
  expect(res.status).toBe(200);
  const body = (await res.json()) as { text: string };
  return { text: body.text, ref: /R-\d+/.exec(body.text)?.[0] };
}

const run = (ref: string): Promise<RunSummary> => getRun(t.app.context().em, ref);
const until = (ref: string, statuses: string[], timeoutMs = 20_000) =>
  waitFor(async () => {
    const r = await run(ref);
    return statuses.includes(r.status) && r;
  }, timeoutMs, `${ref} to be ${statuses.join('/')}`);
const sql = (q: string, p: unknown[] = []): Promise<Array<Record<string, any>>> => t.app.context().em.getConnection().execute(q, p);
const eventsOf = async (ref: string) => (await sql(`select e.stage, e.status, e.message from run_events e join workflow_runs r on r.id = e.run_id where r.number = ? order by e.seq`, [Number(ref.slice(2))])) as Array<{ stage: string; status: string; message: string }>;
const deploymentsTo = (env: string) => github.deployments.filter((d) => d.environment === env);

/** GitHub's side: hold each deployment "in progress" until the test lets it finish. */
let holding = false;
const held: FakeDeployment[] = [];
/** The held deployment of one run (a slow deploy left by an earlier test may be held too). */
const heldFor = (ref: string | undefined) => waitFor(() => held.find((d) => d.payload.autodevhub_run === ref), 15_000, `the deployment of ${ref}`);

function finish(d: FakeDeployment) {
  github.addDeploymentStatus(d.id, 'success', `https://${d.environment}.acme.test`);
}

beforeAll(async () => {
  writeConfig();
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: SHA.v4, v1: SHA.v1, v3: SHA.v3, v4: SHA.v4, 'feature-x': SHA.feature });
  for (const sha of Object.values(SHA)) github.setChecks(sha, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'success' }]);
  const env = { SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '150', AUTODEVHUB_CONFIG: configFile, RATE_LIMIT_COMMANDS: '500/1m', RATE_LIMIT_API: '500/1m' };
  t = await startTestApp(env);
  // A second process on the same database and queue, web and worker both: the races are between processes.
  t2 = await startTestApp(env, {}, t);
  for (const u of [...USERS, 'U0LEAD', 'U0OPS', 'U0ADMIN']) {
    tokens[u] = (await createApiToken({ ctx: t.app.context(), actor: { id: `slack:${u}`, platform: 'web', channel: null } }, { name: `safety ${u}`, scopes: ['read', 'run', 'deploy', 'approve', 'admin'] })).token;
  }
}, 60_000);
afterAll(async () => {
  await t2?.stop();
  await t?.stop();
  await github?.close();
  await slack?.close();
});
beforeEach(() => {
  holding = false;
  github.hooks.onDeploymentCreated = (d) => {
    github.addDeploymentStatus(d.id, 'in_progress');
    if (holding) held.push(d);
    else setTimeout(() => finish(d), 200);
  };
});

/** A deploy to production, approved, until it succeeded. */
async function deployedToProduction(ref: string): Promise<string> {
  const ack = await api(`deploy acme/web production ${ref}`, 'UD0');
  expect(ack.status).toBe(202);
  await until(ack.ref!, ['waiting_approval']);
  expect([200, 202]).toContain((await api(`approve ${ack.ref}`, 'U0LEAD')).status);
  expect((await until(ack.ref!, ['succeeded', 'failed'])).status).toBe('succeeded');
  return ack.ref!;
}

describe('one deploy at a time per environment', () => {
  it('ten people deploying staging at once from two processes: one runs, one waits, eight are told they were superseded', async () => {
    holding = true;
    const replies = await Promise.all(USERS.map((u, i) => api('deploy acme/web staging v4', u, i % 2 ? t2 : t)));
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(202));
    await waitFor(() => held.length >= 1, 15_000, 'the first deployment');
    const runs = await Promise.all(replies.map((r) => run(r.ref!)));
    const active = runs.filter((r) => r.status === 'running');
    const waiting = runs.filter((r) => r.status === 'queued');
    const superseded = runs.filter((r) => r.status === 'cancelled');
    expect(active).toHaveLength(1);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.stage).toBe('queue');
    expect(superseded).toHaveLength(8);
    // The newest request of the other nine is the one that waits.
    expect(waiting[0]!.id).toBe(Math.max(...runs.filter((r) => r !== active[0]).map((r) => r.id)));
    for (const r of superseded) expect(r.error).toMatch(new RegExp(`^Superseded by R-\\d+ \\(slack:UD\\d\\), a newer request for staging`));
    // Everyone was told: the waiting one in its answer, the superseded in their answer or their run's thread.
    const replyOf = (ref: string) => replies.find((x) => x.ref === ref)!.text;
    expect(replyOf(waiting[0]!.ref)).toMatch(/It waits: R-\d+ \(slack:UD\d\) has the environment now/);
    for (const r of superseded) expect(replyOf(r.ref).includes('superseded') || (await eventsOf(r.ref)).some((e) => e.message.startsWith('Superseded by'))).toBe(true);
    expect(deploymentsTo('staging')).toHaveLength(1);
    // Let the first finish: the waiting one starts, after it, never beside it.
    await new Promise((r) => setTimeout(r, 600));
    expect(deploymentsTo('staging')).toHaveLength(1);
    finish(held[0]!);
    expect((await until(active[0]!.ref, ['succeeded'])).status).toBe('succeeded');
    await waitFor(() => held.length >= 2, 15_000, 'the second deployment');
    expect(held[1]!.payload.autodevhub_run).toBe(waiting[0]!.ref);
    expect(Date.parse(held[1]!.statuses[0]!.created_at)).toBeGreaterThanOrEqual(Date.parse(held[0]!.statuses.at(-1)!.created_at));
    finish(held[1]!);
    expect((await until(waiting[0]!.ref, ['succeeded'])).status).toBe('succeeded');
    expect(deploymentsTo('staging')).toHaveLength(2);
    const queue = await sql(`select active_run_id, waiting_run_id from environment_queue where environment = 'staging'`);
    expect(queue).toEqual([{ active_run_id: null, waiting_run_id: null }]);
  }, 60_000);

  it('issue 22.3: with v1 then v3 in production, a promotion (v4) and a rollback sent together are never both accepted', async () => {
    const v1 = await deployedToProduction('v1');
    const v3 = await deployedToProduction('v3');
    const staging = await api('deploy acme/web staging v4', 'UD1');
    expect((await until(staging.ref!, ['succeeded'])).status).toBe('succeeded');
    // Sent together, to two processes.
    const [promote, rollback] = await Promise.all([api(`promote ${staging.ref}`, 'UD2', t), api('rollback production web', 'UD3', t2)]);
    const accepted = [promote, rollback].filter((r) => r.status === 202);
    const promotion = promote.ref!;
    expect(promote.status).toBe(202);
    // What a later rollback goes back to: v3, or v1 when the rollback ran before the promotion.
    let back = SHA.v3;
    if (rollback.status === 409) {
      // The promotion had production: the rollback is refused, and says why and what to do.
      expect(accepted).toHaveLength(1);
      expect(rollback.text).toMatch(new RegExp(`${promotion} \\(Promote acme/web 4444444 from staging .*\\) is (waiting for approval to deploy|deploying|waiting to deploy) to production; a rollback now would be overtaken by it\\. Reject or cancel ${promotion}`));
    } else {
      // The rollback had production first: the promotion waits behind it and goes after it, in order.
      expect(rollback.status).toBe(202);
      expect(promote.text).toMatch(/It waits: R-\d+ \(slack:UD3\) has the environment now/);
      await until(rollback.ref!, ['waiting_approval']);
      expect((await run(promotion)).status).toBe('queued');
      await api(`approve ${rollback.ref}`, 'U0LEAD');
      expect((await until(rollback.ref!, ['succeeded'])).result.sha).toBe(SHA.v1);
      back = SHA.v1;
    }
    await until(promotion, ['waiting_approval']);
    // Asked again while the promotion waits for approval: refused (this is what the probe saw accepted).
    const again = await api('rollback production web', 'UD3');
    expect(again.status).toBe(409);
    expect(again.text).toMatch(new RegExp(`^${promotion} .* is waiting for approval to deploy to production`));
    // Refused before anything was stored: no failed rollback run (the queue's own refusal would name one).
    expect(again.body.reply?.text ?? again.text).not.toMatch(/^Not rolled back \(R-/);
    await api(`approve ${promotion}`, 'U0LEAD');
    expect((await until(promotion, ['succeeded'])).status).toBe('succeeded');
    // Production ends on what was asked last and ran last; a rollback never came after the promotion.
    const last = await sql(`select sha from deployments where environment = 'production' order by id desc limit 1`);
    expect(last[0]!.sha).toBe(SHA.v4);
    expect(v1).not.toBe(v3);
    // Now that production is quiet, the rollback is accepted and goes to v3.
    const later = await api('rollback production web', 'UD3');
    expect(later.status).toBe(202);
    await until(later.ref!, ['waiting_approval']);
    await api(`approve ${later.ref}`, 'U0LEAD');
    expect((await until(later.ref!, ['succeeded'])).result.sha).toBe(back);
  }, 90_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const auditRows = (action: string) => sql(`select actor, target, data from audit_logs where action = ? order by id`, [action]);

describe('locks, freezes, branch rules and overrides', () => {
  it('a lock stops every deploy but the holder’s, says who and until when, and ends by its holder, an admin with a reason, or time (Slack)', async () => {
    const lock = await slash('lock staging debugging the cache for 2h', 'UD1');
    expect(lock.text).toMatch(/^acme\/web staging is locked by slack:UD1 until \w{3} \d+ \w{3} \d\d:\d\d Europe\/Berlin \(debugging the cache\)\./);
    const refused = await slash('deploy staging v4', 'UD2');
    expect(refused.text).toMatch(/^staging is locked by slack:UD1 until \w{3} \d+ \w{3} \d\d:\d\d Europe\/Berlin \(debugging the cache\); slack:UD1 can `unlock staging`; an admin can deploy anyway with `deploy staging … --override "reason"`\.$/);
    expect(refused.ref).toBeUndefined();
    const mine = await slash('deploy staging v4', 'UD1');
    expect(mine.text).toMatch(/^Queued R-\d+/);
    expect((await until(mine.ref!, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect((await slash('locks', 'UD2')).text).toMatch(/^acme\/web staging locked by slack:UD1 since .*, until .* Europe\/Berlin \(debugging the cache\)$/);
    expect((await slash('queue staging', 'UD2')).text).toMatch(/lock: staging locked by slack:UD1/);
    expect((await slash('unlock staging', 'UD2')).text).toMatch(/Not allowed/);
    const override = await slash('deploy staging v4 --override "hotfix for the outage"', 'U0ADMIN');
    expect(override.text).toMatch(/^Queued R-\d+/);
    expect((await until(override.ref!, ['succeeded', 'failed'])).input).toMatchObject({ override: { by: 'slack:U0ADMIN', reason: 'hotfix for the outage' } });
    expect((await auditRows('deploy.override')).at(-1)).toMatchObject({ actor: 'slack:U0ADMIN', data: { reason: 'hotfix for the outage', overrode: [expect.stringMatching(/^staging is locked by slack:UD1/)] } });
    expect((await slash('unlock staging', 'U0ADMIN')).text).toMatch(/^staging locked by slack:UD1 since .*\. Releasing another person's lock needs a reason: `unlock staging (<|&lt;)reason(>|&gt;)`\.$/);
    expect((await slash('unlock staging the holder is on leave', 'U0ADMIN')).text).toBe("acme/web staging is unlocked; slack:UD1's lock was released by slack:U0ADMIN: the holder is on leave.");
    expect((await auditRows('environment.unlocked_by_admin')).at(-1)).toMatchObject({ actor: 'slack:U0ADMIN', data: { holder: 'slack:UD1', reason: 'the holder is on leave' } });
    // By time: a one-second lock no longer stops anyone.
    expect((await slash('lock staging for 1s', 'UD1')).text).toMatch(/locked by slack:UD1 until/);
    expect((await slash('deploy staging v4', 'UD2')).text).toMatch(/is locked by slack:UD1/);
    await sleep(1200);
    const after = await slash('deploy staging v4', 'UD2');
    expect(after.text).toMatch(/^Queued R-\d+/);
    await until(after.ref!, ['succeeded', 'failed']);
  }, 60_000);

  it('the project chosen on the API (or the console, or the CLI) is the one lock, unlock and queue use when the text names no repository', async () => {
    expect((await api('lock staging chosen project for 1h', 'UD3')).status).toBe(400);
    const locked = await api('lock staging chosen project for 1h', 'UD3', t, 'web');
    expect([locked.status, locked.text]).toEqual([200, expect.stringMatching(/^acme\/web staging is locked by slack:UD3 until /)]);
    expect((await api('queue staging', 'UD3', t, 'web')).text).toMatch(/lock: staging locked by slack:UD3/);
    expect((await api('unlock staging', 'UD3', t, 'web')).text).toMatch(/^acme\/web staging is unlocked/);
    // A time it cannot read is refused, not taken as words of a lock that never ends.
    const unreadable = await api('lock staging debugging for 1.5h', 'UD3', t, 'web');
    expect([unreadable.status, unreadable.text]).toEqual([400, expect.stringMatching(/Say how long in whole s, m, h or d/)]);
  });

  it('a freeze refuses with when and who can override; only an admin overrides, audited and on the approval card (API)', async () => {
    const frozen = await api('deploy acme/web frozen v4', 'UD1');
    expect(frozen.status).toBe(409);
    expect(frozen.text).toMatch(/^frozen is frozen until \w{3} \d+ \w{3} \d\d:\d\d Europe\/Berlin \(holiday freeze\); an admin can deploy anyway with `deploy frozen … --override "reason"`\.$/);
    const notAdmin = await api('deploy acme/web frozen v4 --override "please"', 'UD1');
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.text).toMatch(/Not allowed/);
    const admin = await api('deploy acme/web frozen v4 --override "security fix"', 'U0ADMIN');
    expect(admin.status).toBe(202);
    expect((await until(admin.ref!, ['succeeded', 'failed'])).status).toBe('succeeded');
    expect((await auditRows('deploy.override')).at(-1)).toMatchObject({ actor: 'slack:U0ADMIN', target: 'web/frozen', data: { reason: 'security fix', overrode: [expect.stringMatching(/holiday freeze/)] } });
    expect((await api('freezes acme/web frozen', 'UD1')).text).toMatch(/^acme\/web frozen: frozen until .* Europe\/Berlin \(holiday freeze\)\n  holiday freeze: .* \(now\)$/);
    // Branch and tag rules: production takes main and v* only.
    const branch = await api('deploy acme/web production feature-x', 'UD1');
    expect(branch.status).toBe(409);
    expect(branch.text).toBe('production takes only main, v*, and "feature-x" is none of them; deploy one of those, or promote a run that did; an admin can deploy anyway with `deploy production … --override "reason"`.');
    // An override shows on the approval card (the waiting message the card renders).
    const carded = await api('deploy acme/web production feature-x --override "customer demo branch"', 'U0ADMIN');
    expect(carded.status).toBe(202);
    const waiting = await until(carded.ref!, ['waiting_approval']);
    expect((await eventsOf(waiting.ref)).at(-1)!.message).toMatch(/Waiting for 1 approval\(s\) from slack:U0LEAD\. Override by slack:U0ADMIN: "customer demo branch"/);
    await api(`reject ${waiting.ref} not today`, 'U0LEAD');
    await until(waiting.ref, ['failed']);
  }, 60_000);
});

describe('waiting: a freeze that begins during the approval, soak and wait timers, restarts', () => {
  it('waits for a freeze that began while it waited for approval when it ends before the deadline, else refuses; survives restarts while waiting', async () => {
    const t0 = Date.now();
    writeConfig(t0);
    await t.restart();
    await t2.restart();
    const thaw = await api('deploy acme/web thaw v4', 'UD1');
    const late = await api('deploy acme/web late v4', 'UD2');
    expect([thaw.status, late.status]).toEqual([202, 202]);
    await until(thaw.ref!, ['waiting_approval']);
    await until(late.ref!, ['waiting_approval']);
    await sleep(Math.max(0, t0 + LEAD_MS + 500 - Date.now()));
    await api(`approve ${thaw.ref}`, 'U0LEAD');
    await api(`approve ${late.ref}`, 'U0LEAD');
    const waiting = await waitFor(async () => {
      const r = await run(thaw.ref!);
      return r.stage === 'wait' && r;
    }, 10_000, 'the approved deploy to wait for the freeze');
    expect(waiting.status).toBe('running');
    expect((await eventsOf(thaw.ref!)).at(-1)!.message).toMatch(/^Ready to deploy, waiting: thaw is frozen until \w{3} \d+ \w{3} \d\d:\d\d Europe\/Berlin \(change freeze\)\. Deploys at/);
    // Restart both processes while it waits: the wait is a delayed job and the run's stage, nothing in memory.
    await t.restart();
    await t2.restart();
    const done = await until(thaw.ref!, ['succeeded', 'failed'], 30_000);
    expect(done.status).toBe('succeeded');
    const [d] = deploymentsTo('thaw');
    expect(Date.parse(d!.statuses[0]!.created_at)).toBeGreaterThanOrEqual(t0 + LEAD_MS + 6_000 - 1000);
    const refused = await until(late.ref!, ['failed', 'succeeded'], 30_000);
    expect(refused.error).toMatch(/^Not deployed: late is frozen until .* \(long freeze\), which lasts past this run's deadline \(.*\); ask again after .*, or an admin can deploy anyway/);
    expect(deploymentsTo('late')).toHaveLength(0);
  }, 90_000);

  it('shows soak time left and the wait timer on the approval card, and deploys only once both have passed', async () => {
    const staged = await api('deploy acme/web staging v1', 'UD1');
    await until(staged.ref!, ['succeeded']);
    const since = String((await sql(`select max(updated_at) as since from deployments where environment = 'staging' and sha = ?`, [SHA.v1]))[0]!.since);
    const soaked = await api('deploy acme/web soaked v1', 'UD2');
    await until(soaked.ref!, ['waiting_approval']);
    const card = (await eventsOf(soaked.ref!)).at(-1)!.message;
    expect(card).toMatch(/Soak: 1111111 must soak in staging until \d\d:\d\d UTC \(\ds left\)\. Wait timer: deploys 1s after approval/);
    await api(`approve ${soaked.ref}`, 'U0LEAD');
    expect((await until(soaked.ref!, ['succeeded', 'failed'], 30_000)).status).toBe('succeeded');
    expect((await eventsOf(soaked.ref!)).some((e) => e.stage === 'wait' && /must soak in staging/.test(e.message))).toBe(true);
    const created = Date.parse(deploymentsTo('soaked')[0]!.statuses[0]!.created_at);
    expect(created).toBeGreaterThanOrEqual(Date.parse(new Date(since).toISOString()) + 6_000 - 200);
    // The wait timer alone: three seconds after the approval, not before.
    const timed = await api('deploy acme/web timed v4', 'UD2');
    await until(timed.ref!, ['waiting_approval']);
    expect((await eventsOf(timed.ref!)).at(-1)!.message).toMatch(/Wait timer: deploys 3s after approval$/);
    const approvedAt = Date.now();
    await api(`approve ${timed.ref}`, 'U0LEAD');
    expect((await until(timed.ref!, ['succeeded', 'failed'], 30_000)).status).toBe('succeeded');
    expect((await eventsOf(timed.ref!)).some((e) => e.stage === 'wait' && /the wait timer of 3s after approval ends at/.test(e.message))).toBe(true);
    expect(Date.parse(deploymentsTo('timed')[0]!.statuses[0]!.created_at)).toBeGreaterThanOrEqual(approvedAt + 3_000 - 200);
  }, 60_000);

  it('a deploy waiting its turn holds no worker and survives a restart of both processes, then goes when the one ahead finishes', async () => {
    holding = true;
    held.length = 0;
    const first = await api('deploy acme/web staging v4', 'UD3');
    expect(first.status).toBe(202);
    await waitFor(() => held.length >= 1, 15_000, 'the first deployment');
    const second = await api('deploy acme/web staging v3', 'UD4', t2);
    expect(second.text).toMatch(/It waits: .* has the environment now/);
    expect((await run(second.ref!)).stage).toBe('queue');
    // The API shows the queue (the dashboard and the CLI read the same).
    const states = (await (await fetch(`${t2.url}/api/v1/projects/web/environments`, { headers: { authorization: `Bearer ${tokens.UD5}` } })).json()) as { environments: Array<Record<string, any>> };
    expect(states.environments.find((e) => e.environment === 'staging')).toMatchObject({ active: { ref: first.ref, status: 'running' }, waiting: { ref: second.ref, stage: 'queue' }, lock: null, frozen: null });
    expect(states.environments.find((e) => e.environment === 'frozen')).toMatchObject({ frozen: { reasons: ['holiday freeze'] } });
    // The dashboard's "what is live where" shows it too.
    const page = await (await fetch(`${t.url}/dashboard?project=web`, { headers: { cookie: await t.signIn() } })).text();
    expect(page).toContain(`Deploying: <a href="/runs/${first.ref}">${first.ref}</a> (running) by slack:UD3`);
    expect(page).toContain(`Next: <a href="/runs/${second.ref}">${second.ref}</a> by slack:UD4`);
    expect(page).toMatch(/Frozen until .*\(holiday freeze\)/);
    // And the CLI: `autodevhub queue acme/web staging`, `autodevhub locks`.
    const dir = tempDir('safety-cli');
    const cliEnv = { HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), AUTODEVHUB_URL: t.url, AUTODEVHUB_TOKEN: tokens.UD5! };
    const queued = await client(['queue', 'acme/web', 'staging'], cliEnv);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(new RegExp(`deploying: ${first.ref} running \\(verify\\) by slack:UD3[\\s\\S]*waiting: ${second.ref} queued \\(queue\\) by slack:UD4`));
    expect((await client(['locks'], cliEnv)).stdout).toMatch(/^No environment is locked \(acme\/web\)\./);
    await t.restart();
    await t2.restart();
    await sleep(1500);
    expect(await run(second.ref!)).toMatchObject({ status: 'queued', stage: 'queue' });
    expect(held).toHaveLength(1);
    finish(held[0]!);
    await until(first.ref!, ['succeeded']);
    await waitFor(() => held.length >= 2, 15_000, 'the second deployment');
    finish(held[1]!);
    expect((await until(second.ref!, ['succeeded'])).result.sha).toBe(SHA.v3);
    // Handed on by the finishing run itself (not found later by a sweep).
    expect((await eventsOf(second.ref!)).some((e) => new RegExp(`^${first.ref} finished \\(succeeded\\); staging is this deploy's now\\. Starting$`).test(e.message))).toBe(true);
  }, 60_000);
});

describe('the same rules through the other surface', () => {
  it('Slack: a deploy waits its turn, a newer one supersedes it and its thread is told; freeze and branch refusals in words', async () => {
    holding = true;
    held.length = 0;
    const first = await slash('deploy staging v4', 'UD6');
    const firstDeployment = await heldFor(first.ref);
    const second = await slash('deploy staging v3', 'UD7');
    expect(second.text).toMatch(new RegExp(`^Queued ${second.ref}: .*\\nIt waits: ${first.ref} \\(slack:UD6\\) has the environment now`));
    const third = await slash('deploy staging v1', 'UD8');
    expect(third.text).toMatch(new RegExp(`It replaces ${second.ref} \\(slack:UD7\\), which waited before it and is cancelled as superseded\\.`));
    expect((await run(second.ref!)).status).toBe('cancelled');
    // The superseded run's thread hears it (its message is rendered again with the outcome).
    await waitFor(() => JSON.stringify([...slack.callsOf('chat.update'), ...slack.callsOf('chat.postMessage')].map((c) => c.args)).includes(`Superseded by ${third.ref}`), 15_000, 'the superseded thread to be told');
    finish(firstDeployment);
    finish(await heldFor(third.ref));
    expect(held.filter((d) => d.payload.autodevhub_run === first.ref)).toHaveLength(1);
    await until(third.ref!, ['succeeded']);
    expect((await slash('deploy frozen v4', 'UD6')).text).toMatch(/^frozen is frozen until .* Europe\/Berlin \(holiday freeze\); an admin can deploy anyway/);
    expect((await slash('deploy production feature-x', 'UD6')).text).toMatch(/^production takes only main, v\*, and "feature-x" is none of them/);
  }, 60_000);

  it('API: lock and unlock through the commands route, with the lock shown on the environments route', async () => {
    const locked = await api('lock acme/web production release in progress for 30m', 'UD9');
    expect(locked.status).toBe(200);
    const refused = await api('deploy acme/web production v4', 'UD8');
    expect(refused.status).toBe(409);
    expect(refused.text).toMatch(/^production is locked by slack:UD9 until .* Europe\/Berlin \(release in progress\)/);
    const states = (await (await fetch(`${t.url}/api/v1/projects/web/environments`, { headers: { authorization: `Bearer ${tokens.UD8}` } })).json()) as { environments: Array<Record<string, any>> };
    expect(states.environments.find((e) => e.environment === 'production')!.lock).toMatchObject({ holder: 'slack:UD9', reason: 'release in progress', expiresAt: expect.any(String) });
    expect((await api('unlock acme/web production', 'UD8')).status).toBe(403);
    expect((await api('unlock acme/web production', 'UD9')).text).toBe('acme/web production is unlocked.');
    expect((await api('deploy acme/web production v4', 'UD8')).status).toBe(202);
  }, 30_000);
});
