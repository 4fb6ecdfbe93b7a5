import { writeFileSync } from 'node:fs';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeServer, type RecordedRequest } from '../fakes/http.js';
import { startFakeSmtp } from '../fakes/smtp.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { slackClick } from '../helpers/slack-clicks.js';
import { verifySignature } from '../../src/core/notify/webhooks.js';
import { getRun } from '../../src/core/runs/store.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Email (nodemailer to a local SMTP server) and outgoing webhooks (signed, retried with backoff,
 * recorded, redeliverable; private addresses refused unless allowed) around a deploy started in
 * Slack and decided with its buttons.
 */

const GH_TOKEN = 'ghp_notify_secret_token_value';
const HOOK_SECRET = 'whsec_receiver_secret_0123456789';
const SHA = 'a'.repeat(40);

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let smtp: Awaited<ReturnType<typeof startFakeSmtp>>;
let receiver: Awaited<ReturnType<typeof startFakeServer>>;
let cookie: string;
/** The receiver's next answers (500 twice, say); 200 after. */
const answers: number[] = [];
let trigger = 0;

function config(): string {
  const file = join(tempDir('notify'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `emails:
  "slack:U0LEAD": lead@acme.test
  "slack:U0DEV": dev@acme.test
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    # Everyone in the channel may deploy, promote, roll back and export here; approvals still gate.
    roles: { developer: ["*"] }
    environments:
      production: { approvers: ["slack:U0LEAD", "slack:U0NOMAIL"], required_approvals: 1 }
    webhooks:
      - { url: "${receiver.url}/hooks/deploys", secret_env: DEPLOY_HOOK_SECRET, kinds: [deploy], statuses: [waiting_approval, succeeded, failed] }
      - { url: "http://127.0.0.2:${new URL(receiver.url).port}/hooks/blocked", secret_env: DEPLOY_HOOK_SECRET, kinds: [deploy], statuses: [succeeded] }
`,
  );
  return file;
}

/** A receiver's check as the README shows it, written independently of AutoDevHub's code. */
function receiverAccepts(secret: string, r: RecordedRequest): boolean {
  const ts = String(r.headers['x-autodevhub-timestamp']);
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`);
  const given = Buffer.from(String(r.headers['x-autodevhub-signature']));
  return expected.length === given.length && timingSafeEqual(expected, given) && Math.abs(Date.now() / 1000 - Number(ts)) <= 300;
}

const hooks = (path: string) => receiver.requests.filter((r) => r.path === path);
const body = (r: RecordedRequest) => JSON.parse(r.body) as { type: string; deliveryId: number; attempt: number; run: { ref: string; url: string }; event: { seq: number; status: string } };

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => setTimeout(() => github.addDeploymentStatus(d.id, 'success', 'https://production.acme.test'), 100);
  smtp = await startFakeSmtp();
  receiver = await startFakeServer((_req, res) => {
    res.writeHead(answers.shift() ?? 200, { 'content-type': 'text/plain' });
    res.end('thanks');
  });
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '150',
    SMTP_URL: smtp.url, EMAIL_FROM: 'AutoDevHub <autodevhub@acme.test>',
    DEPLOY_HOOK_SECRET: HOOK_SECRET, WEBHOOK_ALLOW_PRIVATE_CIDRS: '127.0.0.1/32', WEBHOOK_BACKOFF_MS: '150', WEBHOOK_ATTEMPTS: '4',
    AUTODEVHUB_CONFIG: config(),
  });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([github?.close(), slack?.close(), smtp?.close(), receiver?.close()]);
});

describe('email and webhooks around a deploy', () => {
  it('mails the approval request to approvers with an address and the outcome to the requester; posts signed webhooks, retried until they land', async () => {
    answers.push(500, 503);
    const res = await postToSlack(t.url, slashCommandBody({ text: 'deploy production', user_id: 'U0DEV', channel_id: 'C0WEB', trigger_id: `n-${++trigger}` }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    await waitFor(async () => (await getRun(t.app.context().em, ref)).status === 'waiting_approval', 15_000, 'waiting');

    const request = await waitFor(() => smtp.mails.find((m) => m.subject.includes(ref)), 10_000, 'the approval email');
    expect(request.to).toEqual(['lead@acme.test']);
    expect(request.from).toBe('autodevhub@acme.test');
    expect(request.subject).toBe(`Approval needed: deploy acme/web to production (${ref})`);
    expect(request.text).toContain(`slack:U0DEV asks to deploy acme/web main (aaaaaaa) to production (${ref})`);
    expect(request.text).toContain(`${t.app.config.publicUrl}/runs/${ref}`);
    expect(request.html).toContain(`<a href="${t.app.config.publicUrl}/runs/${ref}">Open ${ref} in AutoDevHub</a>`);
    // Nothing secret travels by mail.
    for (const secret of [GH_TOKEN, SLACK_BOT_TOKEN, HOOK_SECRET]) expect(request.raw).not.toContain(secret);

    // The waiting_approval webhook failed twice and was retried with backoff until it landed.
    const waitingHooks = await waitFor(() => {
      const got = hooks('/hooks/deploys').filter((r) => body(r).event.status === 'waiting_approval');
      return got.length >= 3 && got;
    }, 10_000, 'three attempts');
    expect(waitingHooks.map((r) => body(r).attempt)).toEqual([1, 2, 3]);
    expect(waitingHooks[2]!.at - waitingHooks[1]!.at).toBeGreaterThanOrEqual(250);
    for (const r of waitingHooks) expect(receiverAccepts(HOOK_SECRET, r)).toBe(true);
    expect(receiverAccepts('another-secret-entirely', waitingHooks[0]!)).toBe(false);
    expect(verifySignature(HOOK_SECRET, waitingHooks[0]!.headers, waitingHooks[0]!.body)).toBe(true);
    expect(waitingHooks[0]!.headers['x-autodevhub-event']).toBe('run.waiting_approval');

    await slackClick(t.url, { action: 'deploy_approve', value: ref, user: 'U0LEAD', channel: 'C0WEB' });
    await waitFor(async () => (await getRun(t.app.context().em, ref)).status === 'succeeded', 15_000, 'deployed');
    const outcome = await waitFor(() => smtp.mails.find((m) => m.to.includes('dev@acme.test')), 10_000, 'the outcome email');
    expect(outcome.subject).toBe(`${ref} deployed aaaaaaa to production: https://production.acme.test`);
    expect(outcome.text).toContain(`/runs/${ref}`);
    const succeeded = await waitFor(() => hooks('/hooks/deploys').find((r) => body(r).event.status === 'succeeded'), 10_000, 'the succeeded webhook');
    expect(body(succeeded)).toMatchObject({ type: 'run.succeeded', run: { ref } });
    // Only what the subscription asked for: no queued or running events, and one email per person and kind.
    expect(new Set(hooks('/hooks/deploys').map((r) => body(r).event.status))).toEqual(new Set(['waiting_approval', 'succeeded']));
    await new Promise((r) => setTimeout(r, 300));
    expect(smtp.mails.filter((m) => m.subject.includes(ref))).toHaveLength(2);

    // Recorded: one delivery per event and subscription, with its attempts; the blocked one refused.
    const list = (await (await fetch(`${t.url}/api/v1/webhook-deliveries?project=web&run=${ref}`, { headers: { cookie } })).json()) as { deliveries: Array<{ id: number; url: string; event: string; state: string; attempts: number; responseStatus: number | null; error: string | null }> };
    const waiting = list.deliveries.find((d) => d.event === 'run.waiting_approval')!;
    expect(waiting).toMatchObject({ state: 'delivered', attempts: 3, responseStatus: 200 });
    const blocked = await waitFor(async () => {
      const l = (await (await fetch(`${t.url}/api/v1/webhook-deliveries?project=web&run=${ref}`, { headers: { cookie } })).json()) as typeof list;
      return l.deliveries.find((d) => d.url.includes('/hooks/blocked') && d.state !== 'pending');
    }, 5000, 'the blocked delivery recorded');
    expect(blocked).toMatchObject({ state: 'refused', attempts: 1 });
    expect(blocked.error).toMatch(/127\.0\.0\.2 is a loopback address.*WEBHOOK_ALLOW_PRIVATE_CIDRS/);
    expect(hooks('/hooks/blocked')).toHaveLength(0);

    // Redelivered from the console: the same event as a new delivery, signed afresh.
    const redo = await fetch(`${t.url}/api/v1/webhook-deliveries/${waiting.id}/redeliver`, { method: 'POST', headers: { cookie } });
    expect(redo.status).toBe(202);
    const redelivery = ((await redo.json()) as { delivery: { id: number; redeliveryOf: number } }).delivery;
    expect(redelivery.redeliveryOf).toBe(waiting.id);
    const again = await waitFor(() => hooks('/hooks/deploys').find((r) => body(r).deliveryId === redelivery.id), 5000, 'the redelivery');
    expect(body(again).event.status).toBe('waiting_approval');
    expect(receiverAccepts(HOOK_SECRET, again)).toBe(true);
    expect((await fetch(`${t.url}/api/v1/webhook-deliveries/99999/redeliver`, { method: 'POST', headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${t.url}/api/v1/webhook-deliveries/${waiting.id}/redeliver`, { method: 'POST' })).status).toBe(401);
  }, 60_000);
});
