import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { findRunByRef } from '../../src/core/runs/queries.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Multi-step decisions commit whole or not at all. A failure is injected between the steps by a
 * trigger in the real database (it raises on the second write), and the test looks for any half
 * state; then the trigger goes and the same request succeeds.
 */

const SHA = 'f'.repeat(40);
let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let cookie: string;
let n = 0;

async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return t.app.db.orm.em.fork().getConnection().execute(text, params);
}

/** Makes the database refuse a write, as a fault between two steps would. */
async function failWhen(table: string, op: 'insert' | 'update', condition: string): Promise<() => Promise<void>> {
  const name = `adh_fail_${++n}`;
  await sql(`create function ${name}() returns trigger as $$ begin raise exception 'injected failure'; end $$ language plpgsql`);
  await sql(`create trigger ${name} before ${op} on ${table} for each row when (${condition}) execute function ${name}()`);
  return async () => {
    await sql(`drop trigger ${name} on ${table}`);
    await sql(`drop function ${name}()`);
  };
}

async function slash(text: string, user = 'U0DEV', channel = 'C0WEB') {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: user, channel_id: channel, trigger_id: `tx-${Math.random()}` }));
  return ((await res.json()) as { text: string }).text;
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: 'ghp_tx' });
  github.addRepo('acme/web', { main: SHA });
  github.addRepo('acme/api', { main: SHA });
  github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }]);
  github.hooks.onDeploymentCreated = (d) => github.addDeploymentStatus(d.id, 'success');
  const dir = tempDir('tx');
  const config = join(dir, 'autodevhub.yaml');
  writeFileSync(
    config,
    `admins: ["slack:U0ADMIN"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    roles: { maintainer: ["slack:U0DEV"] }
    allow_unlinked_channels: true
    environments:
      production: { approvers: ["slack:U0LEAD"], required_approvals: 1 }
  - key: api
    repo: acme/api
    roles: { maintainer: ["slack:U0DEV"] }
    allow_unlinked_channels: true
`,
  );
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, GITHUB_TOKEN: 'ghp_tx', GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100', AUTODEVHUB_CONFIG: config });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await github?.close();
  await slack?.close();
});

describe('a decision and its record commit together', () => {
  it('an approval whose audit row fails leaves no decision behind, and the approver can simply try again', async () => {
    const ref = /R-\d+/.exec(await slash('deploy production'))![0];
    await waitFor(async () => (await findRunByRef(t.app.context().em, ref))?.status === 'waiting_approval', 10_000, 'the approval wait');
    const heal = await failWhen('audit_logs', 'insert', `new.action = 'deploy.approved'`);
    expect(await slash(`approve ${ref}`, 'U0LEAD')).toMatch(/could not handle that/);
    const runId = (await findRunByRef(t.app.context().em, ref))!.id;
    expect(await sql(`select * from approvals where run_id = ?`, [runId])).toHaveLength(0);
    expect((await findRunByRef(t.app.context().em, ref))!.status).toBe('waiting_approval');
    await heal();
    expect(await slash(`approve ${ref}`, 'U0LEAD')).toMatch(new RegExp(`${ref} approved; deploying`));
    await waitFor(async () => (await findRunByRef(t.app.context().em, ref))?.status === 'succeeded', 10_000, 'the deploy');
    expect(await sql(`select person from approvals where run_id = ?`, [runId])).toHaveLength(1);
  });

  it('a channel link whose audit row fails keeps the old link', async () => {
    const heal = await failWhen('audit_logs', 'insert', `new.action = 'channel.linked'`);
    expect(await slash('link acme/api')).toMatch(/could not handle that/);
    expect(await sql(`select project_key from channel_links where channel = 'slack:C0WEB'`)).toEqual([{ project_key: 'web' }]);
    await heal();
    expect(await slash('link acme/api')).toMatch(/now linked to acme\/api/);
    expect(await sql(`select project_key from channel_links where channel = 'slack:C0WEB'`)).toEqual([{ project_key: 'api' }]);
    await slash('link acme/web');
  });

  it('a widget token whose audit row fails is not created, and one whose revocation fails stays valid', async () => {
    const create = (name: string) =>
      fetch(`${t.url}/api/v1/widget-tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ project: 'web', origins: ['https://status.acme.test'], name }) });
    const heal = await failWhen('audit_logs', 'insert', `new.action = 'widget_token.created'`);
    expect((await create('half')).status).toBe(500);
    expect(await sql(`select * from api_tokens where kind = 'widget' and name = 'half'`)).toHaveLength(0);
    await heal();
    const made = (await (await create('whole')).json()) as { id: string };
    const healRevoke = await failWhen('audit_logs', 'insert', `new.action = 'widget_token.revoked'`);
    expect((await fetch(`${t.url}/api/v1/widget-tokens/${made.id}`, { method: 'DELETE', headers: { cookie } })).status).toBe(500);
    expect(await sql(`select revoked_at from api_tokens where token_hash = ?`, [`jti:${made.id}`])).toEqual([{ revoked_at: null }]);
    await healRevoke();
    expect((await fetch(`${t.url}/api/v1/widget-tokens/${made.id}`, { method: 'DELETE', headers: { cookie } })).status).toBe(204);
  });

  it('a new story version is stored only together with its parent being superseded', async () => {
    const first = await consoleRun(t, cookie, 'story As an editor I want to schedule posts so that they go out at the right time');
    const parentId = Number(first.story!.id);
    const heal = await failWhen('user_stories', 'update', `new.status = 'superseded'`);
    // Regenerate from the console's API path: a new run whose story replaces the first.
    const regen = await consoleRunRegenerate(parentId);
    await waitFor(async () => (await sql(`select 1 from run_events e join workflow_runs r on r.id = e.run_id where r.number = ? and e.message like 'Attempt 1 of%'`, [Number(regen.slice(2))])).length > 0, 15_000, 'the failed attempt');
    expect(await sql(`select status from user_stories where id = ?`, [parentId])).toEqual([{ status: 'draft' }]);
    expect(await sql(`select s.id from user_stories s join workflow_runs r on r.id = s.run_id where r.number = ?`, [Number(regen.slice(2))])).toHaveLength(0);
    await heal();
    await waitFor(async () => (await findRunByRef(t.app.context().em, regen))?.status === 'succeeded', 20_000, 'the retry to succeed');
    expect(await sql(`select status from user_stories where id = ?`, [parentId])).toEqual([{ status: 'superseded' }]);
  }, 40_000);
});

/** Regenerates a story as the Slack button does (the verb is the same on every surface). */
async function consoleRunRegenerate(storyId: number): Promise<string> {
  const { regenerateStory } = await import('../../src/core/stories/service.js');
  const created = await regenerateStory({ ctx: t.app.context(), actor: { id: 'web:admin', platform: 'web' } }, storyId, { deliveryId: `regen-${Math.random()}` });
  return created.run.ref;
}
