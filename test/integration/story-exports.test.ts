import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack, type SlackCall } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { startFakeJira } from '../fakes/jira-api.js';
import { startFakeLinear } from '../fakes/linear-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { slackClick } from '../helpers/slack-clicks.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Stories into issue trackers (GitHub Issues through Octokit, Jira REST v3 through jira.js,
 * Linear through @linear/sdk) and into the repository as a pull request, each against a fake
 * speaking the service's wire protocol: from the Slack buttons, from `story … --issue --pr`, and
 * from the API; one issue and one pull request per story version whatever is clicked twice.
 */

const GH_TOKEN = 'ghp_exports_token';
const JIRA = { email: 'bot@acme.test', token: 'jira-api-token-123' };
const LINEAR_KEY = 'lin_api_exports_key';

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let jira: Awaited<ReturnType<typeof startFakeJira>>;
let linear: Awaited<ReturnType<typeof startFakeLinear>>;
let cookie: string;
let trigger = 0;

function config(): string {
  const file = join(tempDir('exports'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    # Everyone in the channel may deploy, promote, roll back and export here; approvals still gate.
    roles: { developer: ["*"] }
    issues: { tracker: github, labels: ["story"] }
    features: { path: specs/features/ }
  - key: api
    repo: acme/api
    channels: ["slack:C0API"]
    # Everyone in the channel may deploy, promote, roll back and export here; approvals still gate.
    roles: { developer: ["*"] }
    issues: { tracker: jira, project: API }
  - key: mobile
    repo: acme/mobile
    channels: ["slack:C0MOB"]
    # Everyone in the channel may deploy, promote, roll back and export here; approvals still gate.
    roles: { developer: ["*"] }
    issues: { tracker: linear, team_id: team-mobile }
`,
  );
  return file;
}

async function storyIn(channel: string, text: string): Promise<{ ref: string; post: SlackCall; storyId: number }> {
  const res = await postToSlack(t.url, slashCommandBody({ text, user_id: 'U0PO', channel_id: channel, trigger_id: `exp-${++trigger}-${Date.now()}` }));
  const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
  const post = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).startsWith('User story') && String(c.args.text).includes(ref)), 20_000, `story of ${ref}`);
  return { ref, post, storyId: Number(/story:(\d+)/.exec(JSON.stringify(post.args.blocks))![1]) };
}

const actionIds = (call: SlackCall) => [...JSON.stringify(call.args.blocks).matchAll(/"action_id":"(\w+)"/g)].map((m) => m[1]);

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  for (const repo of ['acme/web', 'acme/api', 'acme/mobile']) github.addRepo(repo, { main: 'f'.repeat(40) });
  jira = await startFakeJira({ ...JIRA, projects: ['API'] });
  linear = await startFakeLinear({ apiKey: LINEAR_KEY, teams: ['team-mobile'] });
  t = await startTestApp({
    SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url,
    JIRA_BASE_URL: jira.url, JIRA_EMAIL: JIRA.email, JIRA_API_TOKEN: JIRA.token, LINEAR_API_KEY: LINEAR_KEY, LINEAR_API_URL: linear.apiUrl,
    AUTODEVHUB_CONFIG: config(),
  });
  cookie = await t.signIn();
});
afterAll(async () => {
  await t?.stop();
  await Promise.all([github?.close(), slack?.close(), jira?.close(), linear?.close()]);
});

describe('Create issue on a story, in each tracker', () => {
  it.each([
    ['GitHub Issues', 'C0WEB', () => github.issues.map((i) => ({ body: i.body, url: `https://github.com/${i.repo}/issues/${i.number}`, labels: i.labels }))],
    ['Jira', 'C0API', () => jira.issues.map((i) => ({ body: JSON.stringify(i.description), url: `${jira.url}/browse/${i.key}`, labels: i.labels }))],
    ['Linear', 'C0MOB', () => linear.issues.map((i) => ({ body: i.description, url: i.url, labels: [] as string[] }))],
  ])('%s: two clicks at once make one issue, whose link comes back to the thread and the card', async (_name, channel, issuesOf) => {
    github.hooks.issueDelayMs = jira.hooks.delayMs = linear.hooks.delayMs = 400;
    const before = issuesOf().length;
    const { ref, post, storyId } = await storyIn(channel, 'story As a customer I want to download my invoices as PDF so that I can file them');
    expect(actionIds(post)).toEqual(['story_accept', 'story_regenerate', 'story_issue', 'story_pr']);
    const message = { ts: post.ts!, thread_ts: String(post.args.thread_ts) };
    await Promise.all([
      slackClick(t.url, { action: 'story_issue', value: String(storyId), user: 'U0PO', channel, message }),
      slackClick(t.url, { action: 'story_issue', value: String(storyId), user: 'U0DEV', channel, message }),
    ]);
    const linkPost = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).includes('created by') && c.args.channel === channel && c.args.thread_ts === message.thread_ts), 10_000, 'the link in the thread');
    await new Promise((r) => setTimeout(r, 600));
    const made = issuesOf().slice(before);
    expect(made).toHaveLength(1);
    expect(String(linkPost.args.text)).toContain(made[0]!.url);
    expect(slack.callsOf('chat.postMessage').filter((c) => String(c.args.text).includes('created by') && c.args.channel === channel && c.args.thread_ts === message.thread_ts)).toHaveLength(1);
    // The other click is told why nothing more happened, privately.
    await waitFor(() => slack.callsOf('chat.postEphemeral').some((c) => c.args.channel === channel && /being created|already exists/.test(String(c.args.text))), 5000, 'the second click answered');
    // The card now links the issue and no longer offers to create one.
    const redrawn = await waitFor(() => slack.callsOf('chat.update').filter((c) => c.args.ts === post.ts && JSON.stringify(c.args.blocks).includes(made[0]!.url)).at(-1), 5000, 'the card redrawn');
    expect(actionIds(redrawn)).not.toContain('story_issue');
    // The issue holds the story, its scenarios as acceptance criteria and the Gherkin, and points back to the run.
    expect(made[0]!.body).toContain('Acceptance criteria');
    expect(made[0]!.body).toContain('Download my invoices as PDF');
    expect(made[0]!.body).toContain(ref);
    // A later click finds the issue instead of making another.
    await slackClick(t.url, { action: 'story_issue', value: String(storyId), user: 'U0PO', channel, message });
    await waitFor(() => slack.callsOf('chat.postEphemeral').some((c) => String(c.args.text).includes(`already exists for this story version: ${made[0]!.url}`)), 5000, 'already there');
    expect(issuesOf().slice(before)).toHaveLength(1);
    // The API shows the export with the run.
    const detail = (await (await fetch(`${t.url}/api/v1/runs/${ref}`, { headers: { cookie } })).json()) as { exports: Array<{ kind: string; url: string; state: string }> };
    expect(detail.exports).toEqual([expect.objectContaining({ kind: 'issue', state: 'done', url: made[0]!.url })]);
  }, 40_000);

  it('writes acceptance criteria in each tracker’s own format', () => {
    const gh = github.issues.at(-1)!;
    expect(gh.body).toMatch(/## Acceptance criteria\n- \[ \] /);
    expect(gh.body).toContain('```gherkin\nFeature: ');
    expect(gh.body).toMatch(/<!-- AutoDevHub-Story: \d+ -->/);
    expect(gh.labels).toEqual(['autodevhub', expect.stringMatching(/^autodevhub-story-\d+$/), 'story']);
    const j = jira.issues.at(-1)!;
    expect(j.issueType).toBe('Story');
    const nodes = (j.description.content as Array<{ type: string; attrs?: { language?: string } }>).map((n) => n.type);
    expect(nodes).toEqual(expect.arrayContaining(['paragraph', 'heading', 'bulletList', 'codeBlock']));
    expect((j.description.content as Array<{ type: string; attrs?: { language?: string } }>).find((n) => n.type === 'codeBlock')!.attrs!.language).toBe('gherkin');
    expect(j.labels).toEqual(['autodevhub', expect.stringMatching(/^autodevhub-story-\d+$/)]);
    expect(linear.issues.at(-1)!.description).toMatch(/## Acceptance criteria\n- \[ \] /);
  });
});

describe('story … --issue --pr', () => {
  it('files the issue and opens the pull request with the feature file and cucumber-js step skeletons, then offers neither again', async () => {
    const pullsBefore = github.pulls.length;
    const { ref, post, storyId } = await storyIn('C0WEB', 'story As an admin I want to archive projects older than 12 months so that the list stays short --issue --pr');
    const links = JSON.stringify(post.args.blocks);
    expect(actionIds(post)).toEqual(['story_accept', 'story_regenerate']);
    expect(links).toContain('github.com/acme/web/issues/');
    expect(links).toContain('github.com/acme/web/pull/');
    const pr = github.pulls.slice(pullsBefore);
    expect(pr).toHaveLength(1);
    expect(pr[0]!.head).toMatch(new RegExp(`^autodevhub/story-${storyId}-archive-projects`));
    expect(pr[0]!.base).toBe('main');
    const files = github.commitsMade.filter((c) => c.branch === pr[0]!.head);
    const feature = files.find((f) => f.path.endsWith('.feature'))!;
    const steps = files.find((f) => f.path.endsWith('.steps.ts'))!;
    expect(feature.path).toMatch(/^specs\/features\/archive-projects[\w-]*\.feature$/);
    expect(steps.path).toBe(feature.path.replace('specs/features/', 'specs/features/step_definitions/').replace(/\.feature$/, '.steps.ts'));
    expect(checkGherkin(feature.content).ok).toBe(true);
    expect(steps.content).toMatch(/^import \{ Given, When, Then \} from '@cucumber\/cucumber';$/m);
    expect(steps.content).toContain("return 'pending';");
    expect(steps.content).toMatch(/\{int\}/);
    expect(feature.message).toContain(`AutoDevHub-Story: ${storyId} (${ref}, version 1)`);
    const events = ((await (await fetch(`${t.url}/api/v1/runs/${ref}`, { headers: { cookie } })).json()) as { events: Array<{ stage: string; status: string; data: Record<string, any> | null }> }).events;
    expect(events.map((e) => e.stage)).toContain('export');
    expect(events.at(-1)!.data!.exports.map((e: { kind: string }) => e.kind)).toEqual(['issue', 'pull_request']);
    // The button path (and the API) reach the same pull request.
    const again = await fetch(`${t.url}/api/v1/stories/${storyId}/pull-request`, { method: 'POST', headers: { cookie } });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { export: { url: string } }).export.url).toBe(`https://github.com/acme/web/pull/${pr[0]!.number}`);
    expect(github.pulls.slice(pullsBefore)).toHaveLength(1);
  }, 40_000);
});

describe('exports through the API', () => {
  it('makes one issue for concurrent requests, and recovers an issue whose answer was lost without making a second', async () => {
    const { storyId } = await storyIn('C0WEB', 'story As a shopper I want to save my cart so that I can buy later');
    const issues = () => github.issues.filter((i) => i.body.includes(`AutoDevHub-Story: ${storyId} `));
    const post = () => fetch(`${t.url}/api/v1/stories/${storyId}/issue`, { method: 'POST', headers: { cookie } });
    // The answer to "create" is lost: the click fails, the issue exists on GitHub.
    github.hooks.issueDelayMs = 0;
    github.hooks.failIssueOnce = true;
    const lost = await post();
    expect(lost.status).toBe(503);
    expect(((await lost.json()) as { message: string }).message).toMatch(/could not be created/);
    expect(issues()).toHaveLength(1);
    // Trying again finds it by its marker instead of making a second.
    github.hooks.issueDelayMs = 300;
    const [a, b] = await Promise.all([post(), post()]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect(issues()).toHaveLength(1);
    const third = await post();
    expect(third.status).toBe(200);
    expect(((await third.json()) as { export: { url: string } }).export.url).toBe(`https://github.com/acme/web/issues/${issues()[0]!.number}`);
    const audit: Array<{ action: string }> = await t.app.context().em.getConnection().execute(`select action from audit_logs where target = ? order by id`, [`story:${storyId}`]);
    expect(audit.map((r) => r.action)).toEqual(['story.generated', 'story.issue_failed', 'story.issue_created']);
  }, 40_000);

  it('finds the issue a lost attempt made by its exact key, never by text: GitHub by its story label, Linear by its own id', async () => {
    // GitHub: story N's lost issue, then story N0's issue and a reporter's issue quoting N's marker.
    const gh = await storyIn('C0WEB', 'story As a buyer I want to compare two products so that I pick the better one');
    github.hooks.issueDelayMs = 0;
    github.hooks.failIssueOnce = true;
    expect((await fetch(`${t.url}/api/v1/stories/${gh.storyId}/issue`, { method: 'POST', headers: { cookie } })).status).toBe(503);
    const lost = github.issues.at(-1)!;
    expect(lost.labels).toContain(`autodevhub-story-${gh.storyId}`);
    const number = () => Math.max(...github.issues.filter((i) => i.repo === 'acme/web').map((i) => i.number)) + 1;
    github.issues.push({ repo: 'acme/web', number: number(), title: 'Story N0', body: `x\n<!-- AutoDevHub-Story: ${gh.storyId}0 -->\n`, labels: ['autodevhub', `autodevhub-story-${gh.storyId}0`] });
    github.issues.push({ repo: 'acme/web', number: number(), title: 'Looks like yours', body: `Steal me: AutoDevHub-Story: ${gh.storyId}\n<!-- AutoDevHub-Story: ${gh.storyId} -->`, labels: ['autodevhub'] });
    const retried = await fetch(`${t.url}/api/v1/stories/${gh.storyId}/issue`, { method: 'POST', headers: { cookie } });
    expect(retried.status).toBe(201);
    expect(((await retried.json()) as { export: { url: string } }).export.url).toBe(`https://github.com/acme/web/issues/${lost.number}`);

    // Linear: someone wrote the story's marker into a description before the lost attempt.
    const lin = await storyIn('C0MOB', 'story As a shopper I want to save my cart so that I can buy later');
    const forged = { id: 'forged-uuid', identifier: 'ENG-900', teamId: 'team-mobile', title: 'Forged', description: `AutoDevHub-Story: ${lin.storyId}`, url: 'https://linear.app/acme/issue/ENG-900' };
    linear.issues.push(forged);
    linear.hooks.delayMs = 0;
    linear.hooks.failCreateOnce = true;
    expect((await fetch(`${t.url}/api/v1/stories/${lin.storyId}/issue`, { method: 'POST', headers: { cookie } })).status).toBe(503);
    const made = linear.issues.at(-1)!;
    expect(made.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const again = await fetch(`${t.url}/api/v1/stories/${lin.storyId}/issue`, { method: 'POST', headers: { cookie } });
    expect(again.status).toBe(201);
    expect(((await again.json()) as { export: { url: string } }).export.url).toBe(made.url);
    expect(linear.issues.filter((i) => i.description.includes(`AutoDevHub-Story: ${lin.storyId} `))).toHaveLength(1);
  }, 60_000);

  it('refuses to export a story that belongs to no project, and answers bad ids', async () => {
    const { post, storyId } = await storyIn('C0NONE', 'story As a reader I want to bookmark articles so that I can read them later');
    expect(actionIds(post)).toEqual(['story_accept', 'story_regenerate']);
    const res = await fetch(`${t.url}/api/v1/stories/${storyId}/issue`, { method: 'POST', headers: { cookie } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/belongs to no project/);
    expect((await fetch(`${t.url}/api/v1/stories/abc/issue`, { method: 'POST', headers: { cookie } })).status).toBe(400);
    expect((await fetch(`${t.url}/api/v1/stories/999999/issue`, { method: 'POST', headers: { cookie } })).status).toBe(404);
    expect((await fetch(`${t.url}/api/v1/stories/${storyId}/issue`, { method: 'POST' })).status).toBe(401);
  }, 30_000);
});
