import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeDiscord } from '../fakes/discord-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { commandInteraction, discordKeys, postInteraction } from '../helpers/discord.js';
import { createApiToken } from '../../src/core/access/api-tokens.js';
import { findRunByRef } from '../../src/core/runs/queries.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The permission matrix, walked: every verb × every role, on Slack, Discord and the API. Each
 * cell is "allowed" (anything but a refusal) or "denied" (a private "Not allowed: …" that names
 * who can grant it, audited). If any cell changes, this test fails.
 */

const ROLES = ['admin', 'maintainer', 'developer', 'viewer', 'none'] as const;
type Role = (typeof ROLES)[number];
const SLACK: Record<Role, string> = { admin: 'UADMIN', maintainer: 'UMAINT', developer: 'UDEV', viewer: 'UVIEW', none: 'UNONE' };
const DISCORD: Record<Role, string> = { admin: '9001', maintainer: '9002', developer: '9003', viewer: '9004', none: '9005' };

/** Y: allowed, N: refused; roles in the order of ROLES. */
const MATRIX: Record<string, string> = {
  help: 'YYYYY',
  whoami: 'YYYYY',
  story: 'YYYYN',
  status: 'YYYYN',
  docs: 'YYYNN',
  'deploy staging': 'YYYNN',
  'deploy production': 'YYNNN',
  approve: 'YYNNN',
  reject: 'YYNNN',
  cancel: 'YYNNN',
  link: 'YYNNN',
  // Issue 27: locks are deploy-like; reading locks and the queue is a viewer's.
  'lock staging': 'YYYNN',
  'unlock staging': 'YYYNN',
  locks: 'YYYYN',
  'queue staging': 'YYYYN',
};
/** What only the API and the console do. */
const API_ONLY: Record<string, string> = {
  'widget token': 'YYNNN',
  'API token': 'YYYYY',
  people: 'YNNNN',
  'role grants': 'YNNNN',
  'permission matrix': 'YYYYY',
  // Going past locks, freezes and branch rules: admins only (the Discord command has no override option).
  'deploy --override': 'YNNNN',
};

const APP_ID = '990000000000000010';
const keys = discordKeys();
let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let discord: Awaited<ReturnType<typeof startFakeDiscord>>;
const tokens = {} as Record<Role, string>;
let deployRef: string;
let storyRef: string;
let n = 0;

function config(): string {
  const file = join(tempDir('matrix'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `admins: ["slack:UADMIN", "discord:9001"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:CWEB", "slack:CLINK", "discord:7001", "discord:7002"]
    channel_role: none
    roles:
      maintainer: ["slack:UMAINT", "discord:9002"]
      developer: ["slack:UDEV", "discord:9003"]
      viewer: ["slack:UVIEW", "discord:9004"]
    environments:
      staging: { required_approvals: 0 }
      production: { required_approvals: 1, min_role: maintainer }
  - key: api
    repo: acme/api
    allow_unlinked_channels: true
    roles: { maintainer: ["slack:UMAINT", "discord:9002"] }
`,
  );
  return file;
}

/** The command each verb sends, and the channel it is sent in. */
function commandFor(verb: string): { text: string; channel: 'work' | 'link' } {
  switch (verb) {
    case 'story': return { text: 'story As a buyer I want invoices as PDF so that I can file them', channel: 'work' };
    case 'status': return { text: `status ${storyRef}`, channel: 'work' };
    case 'docs': return { text: 'docs acme/web', channel: 'work' };
    case 'approve': return { text: `approve ${deployRef}`, channel: 'work' };
    case 'reject': return { text: `reject ${deployRef}`, channel: 'work' };
    case 'cancel': return { text: `cancel ${storyRef}`, channel: 'work' };
    case 'link': return { text: 'link acme/api', channel: 'link' };
    case 'lock staging':
    case 'unlock staging':
    case 'queue staging': return { text: `${verb.split(' ')[0]} acme/web staging`, channel: 'work' };
    case 'locks': return { text: 'locks acme/web', channel: 'work' };
    case 'deploy --override': return { text: 'deploy acme/web staging --override "matrix check"', channel: 'work' };
    case 'deploy staging':
    case 'deploy production': return { text: `deploy acme/web ${verb.split(' ')[1]}`, channel: 'work' };
    default: return { text: verb, channel: 'work' };
  }
}

async function viaSlack(role: Role, verb: string): Promise<string> {
  const { text, channel } = commandFor(verb);
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: SLACK[role], channel_id: channel === 'work' ? 'CWEB' : 'CLINK', trigger_id: `m-${++n}` }));
  const body = (await res.json()) as { text: string; response_type: string };
  if (body.text.startsWith('Not allowed:')) expect(body.response_type, `${verb} refusal is private`).toBe('ephemeral');
  return body.text;
}

async function viaDiscord(role: Role, verb: string): Promise<string> {
  const { text, channel } = commandFor(verb);
  const [sub, ...rest] = text.split(' ');
  const arg = rest.join(' ');
  const options: Record<string, string> =
    sub === 'story' ? { description: arg } : sub === 'docs' || sub === 'link' ? { repo: arg } : sub === 'deploy' ? { repo: rest[0]!, environment: rest[1]! } : ['status', 'approve', 'reject', 'cancel'].includes(sub!) ? { run: arg } : ['lock', 'unlock', 'queue'].includes(sub!) ? { repo: rest[0]!, environment: rest[1]! } : sub === 'locks' ? { repo: arg } : {};
  const i = commandInteraction(APP_ID, sub!, options, DISCORD[role], channel === 'work' ? '7001' : '7002');
  discord.openInteraction(i.token, i.channel_id);
  const res = await postInteraction(t.url, keys, i);
  const content = String(res.body.data?.content ?? `deferred ${res.body.type}`);
  if (content.includes('Not allowed:')) expect(res.body.data.flags, `${verb} refusal is private`).toBe(64);
  return content;
}

async function viaApi(role: Role, verb: string): Promise<string> {
  const auth = { authorization: `Bearer ${tokens[role]}`, 'content-type': 'application/json' };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, { method, headers: auth, ...(body !== undefined && { body: JSON.stringify(body) }) });
    expect(res.status, `${verb} as ${role}: authenticated`).not.toBe(401);
    const json = res.status === 204 ? {} : ((await res.json()) as { message?: string; text?: string });
    return res.status === 403 ? String(json.message) : `${res.status} ${json.text ?? json.message ?? ''}`;
  };
  switch (verb) {
    case 'story': return call('POST', '/api/v1/commands', { text: commandFor(verb).text, project: 'web' });
    case 'status': return call('GET', `/api/v1/runs/${storyRef}`);
    case 'approve':
    case 'reject': return call('POST', `/api/v1/runs/${deployRef}/${verb}`, {});
    case 'cancel': return call('POST', `/api/v1/runs/${storyRef}/cancel`);
    case 'link': return call('POST', '/api/v1/projects/api/channels', { channel: 'slack:CAPI' });
    case 'widget token': return call('POST', '/api/v1/widget-tokens', { project: 'web', origins: ['https://status.acme.test'] });
    case 'API token': return call('POST', '/api/v1/tokens', { name: 'matrix', scopes: ['read'] });
    case 'people': return call('GET', '/api/v1/people');
    case 'role grants': return call('GET', '/api/v1/roles/grants');
    case 'permission matrix': return call('GET', '/api/v1/roles/matrix');
    default: return call('POST', '/api/v1/commands', { text: commandFor(verb).text });
  }
}

async function auditedRefusals(): Promise<number> {
  const rows: Array<{ n: string }> = await t.app.context().em.getConnection().execute(`select count(*) as n from audit_logs where action = 'access.denied'`);
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  discord = await startFakeDiscord({ applicationId: APP_ID, botToken: 'bot-matrix' });
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl,
    DISCORD_PUBLIC_KEY: keys.publicKeyHex, DISCORD_APPLICATION_ID: APP_ID, DISCORD_BOT_TOKEN: 'bot-matrix', DISCORD_API_URL: discord.apiUrl,
    AUTODEVHUB_CONFIG: config(), RATE_LIMIT_COMMANDS: '500/1m', RATE_LIMIT_API: '500/1m',
  });
  const ctx = t.app.context();
  for (const role of ROLES) {
    tokens[role] = (await createApiToken({ ctx: t.app.context(), actor: { id: `slack:${SLACK[role]}`, platform: 'web', channel: null } }, { name: `matrix ${role}`, scopes: ['read', 'run', 'deploy', 'approve', 'admin'] })).token;
  }
  // A story of web asked by someone else, finished; and a deploy to production (no GitHub here: it fails).
  const story = await ctx.intake.submit({ kind: 'story', requestedBy: 'slack:UOTHER', sourcePlatform: 'slack', channel: 'slack:CWEB', projectKey: 'web', input: { description: 'As a user I want exports so that I keep my data' }, delivery: { platform: 'slack', id: 'matrix-story' } });
  const deploy = await ctx.intake.submit({ kind: 'deploy', requestedBy: 'slack:UOTHER', sourcePlatform: 'slack', channel: 'slack:CWEB', projectKey: 'web', input: { repo: 'acme/web', environment: 'production', description: 'Deploy acme/web to production' }, delivery: { platform: 'slack', id: 'matrix-deploy' } });
  storyRef = story.run.ref;
  deployRef = deploy.run.ref;
  await waitFor(async () => ['succeeded', 'needs_input'].includes((await findRunByRef(t.app.context().em, storyRef))!.status) && (await findRunByRef(t.app.context().em, deployRef))!.status === 'failed', 20_000, 'the fixtures to finish');
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([slack?.close(), discord?.close()]);
});

describe('the permission matrix', () => {
  it.each([
    ['Slack', viaSlack],
    ['Discord', viaDiscord],
    ['the API', viaApi],
  ] as const)('every verb × role on %s', async (_surface, send) => {
    const seen: Record<string, string> = {};
    const before = await auditedRefusals();
    let denied = 0;
    for (const verb of Object.keys(MATRIX)) {
      let row = '';
      for (const role of ROLES) {
        const answer = await send(role, verb);
        const refused = answer.includes('Not allowed:');
        if (refused) {
          denied += 1;
          // Says what is missing and who can grant it.
          expect(answer, `${verb} as ${role}`).toMatch(/can grant it|admin \(|approvers|maintainer or admin can link/);
        }
        row += refused ? 'N' : 'Y';
      }
      seen[verb] = row;
    }
    expect(seen).toEqual(MATRIX);
    expect(await auditedRefusals()).toBe(before + denied);
  }, 120_000);

  it('covers what only the API does (tokens, people, roles)', async () => {
    const seen: Record<string, string> = {};
    for (const verb of Object.keys(API_ONLY)) {
      let row = '';
      for (const role of ROLES) row += (await viaApi(role, verb)).includes('Not allowed:') ? 'N' : 'Y';
      seen[verb] = row;
    }
    expect(seen).toEqual(API_ONLY);
  });

  it('publishes the same table at /api/v1/roles/matrix, with every action the code knows', async () => {
    const res = await fetch(`${t.url}/api/v1/roles/matrix`, { headers: { authorization: `Bearer ${tokens.none}` } });
    const body = (await res.json()) as { actions: Array<{ action: string; min: string; scope: string | null }> };
    const byAction = Object.fromEntries(body.actions.map((a) => [a.action, a.min]));
    expect(byAction).toMatchObject({
      'story.create': 'viewer', 'docs.create': 'developer', 'deploy.create': 'developer', 'deploy.promote': 'developer', 'deploy.rollback': 'developer',
      'deploy.approve': 'maintainer', 'deploy.lock': 'developer', 'deploy.override': 'admin', 'run.cancel': 'maintainer', 'channel.link': 'maintainer', 'run.read': 'viewer',
      'widget_token.manage': 'maintainer', 'api_token.own': 'everyone', 'people.manage': 'admin', 'roles.grant': 'admin', 'audit.read': 'admin', 'audit.export': 'admin',
    });
  });
});
