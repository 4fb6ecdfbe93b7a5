import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFeed, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { slackClick } from '../helpers/slack-clicks.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { CLIENT_BIN, client, jsonLines, startClient } from '../helpers/client-cli.js';
import { tempDir } from '../helpers/tmp.js';
import { getRun } from '../../src/core/runs/store.js';
import { createApiToken } from '../../src/core/access/api-tokens.js';

/**
 * The `autodevhub` command-line client, spawned as a real process against the real server (its
 * Postgres, Redis, workers and live feed) with fake Slack and GitHub.
 */

const GH_TOKEN = 'ghp_test_token_autodevhub';
const SHA = { main: 'a'.repeat(40), broken: 'c'.repeat(40) };
const STORY = 'As a shopper I want to save my cart so that I can buy later';

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let github: Awaited<ReturnType<typeof startFakeGitHub>>;
let adminToken: string;
let readToken: string;
let cookie: string;
/** A token of the production approver, slack:U0LEAD (made through the core verb, as the console does). */
let leadToken: string;

function config(): string {
  const file = join(tempDir('cli-config'), 'autodevhub.yaml');
  writeFileSync(
    file,
    `admins: ["slack:U0ADMIN"]
projects:
  - key: web
    repo: acme/web
    channels: ["slack:C0WEB"]
    roles: { developer: ["slack:U0LEAD"] }
    environments:
      staging: { required_approvals: 0 }
      qa: { required_approvals: 0 }
      production: { approvers: ["slack:U0LEAD"], required_approvals: 1, timeout: 1h }
`,
  );
  return file;
}

/** A fresh home for each CLI user: credentials never leak between tests or into the real home. */
function home(extra: Record<string, string> = {}): Record<string, string> {
  const dir = tempDir('cli-home');
  return { HOME: dir, XDG_CONFIG_HOME: join(dir, '.config'), ...extra };
}
const as = (token: string, url = t.url) => home({ AUTODEVHUB_URL: url, AUTODEVHUB_TOKEN: token });

async function makeToken(cookie: string, scopes: string[]): Promise<{ token: string; id: number }> {
  const res = await fetch(`${t.url}/api/v1/tokens`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ name: `cli ${scopes.join(' ')}`, scopes }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; id: number };
}

const approveFromSlack = (ref: string, action = 'deploy_approve') => slackClick(t.url, { action, value: ref, user: 'U0LEAD', channel: 'C0WEB' });
const runOf = (ref: string) => getRun(t.app.context().em.fork(), ref);
const refIn = (text: string) => /R-\d+/.exec(text)?.[0];

/** Queues a production deploy (waits for an approval) as the admin token; returns its reference. */
async function productionDeploy(): Promise<string> {
  const r = await client(['deploy', 'acme/web', 'production', 'main'], as(adminToken));
  expect(r.code, r.stderr).toBe(0);
  const ref = refIn(r.stdout)!;
  await waitFor(async () => (await runOf(ref)).status === 'waiting_approval', 20_000, `${ref} to wait for approval`);
  return ref;
}

function expectContiguous(events: Array<Record<string, any>>, lastSeq: number): void {
  expect(events.map((e) => e.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
}

const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z R-\d+ /;

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  github = await startFakeGitHub({ token: GH_TOKEN });
  github.addRepo('acme/web', { main: SHA.main, broken: SHA.broken });
  github.setChecks(SHA.main, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'success' }]);
  github.setChecks(SHA.broken, [{ context: 'ci/build', state: 'success' }], [{ name: 'test', status: 'completed', conclusion: 'failure' }]);
  github.hooks.onDeploymentCreated = (d) => {
    github.addDeploymentStatus(d.id, 'in_progress');
    setTimeout(() => github.addDeploymentStatus(d.id, 'success', `https://${d.environment}.acme.test`), 200);
  };
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '200', AUTODEVHUB_CONFIG: config() });
  cookie = await t.signIn();
  adminToken = (await makeToken(cookie, ['read', 'run', 'deploy', 'approve', 'admin'])).token;
  readToken = (await makeToken(cookie, ['read'])).token;
  const ctx = t.app.context();
  leadToken = (await createApiToken({ ctx: { ...ctx, em: ctx.em.fork() }, actor: { id: 'slack:U0LEAD', platform: 'slack', channel: null } }, { name: 'lead', scopes: ['read', 'approve'] })).token;
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await github?.close();
  await slack?.close();
});

describe('autodevhub CLI: install, help and usage', { timeout: 60_000 }, () => {
  it('runs from the checkout with npx, and lists every verb of the chat grammar plus its own commands', async () => {
    const npx = await new Promise<{ code: number | null; out: string }>((resolve) => {
      import('node:child_process').then(({ execFile }) =>
        execFile('npx', ['--offline', 'autodevhub', '--help'], { cwd: new URL('../../', import.meta.url).pathname, env: { PATH: process.env.PATH ?? '', ...home() } }, (err, out) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out }),
        ),
      );
    });
    expect(npx.code).toBe(0);
    for (const verb of ['help', 'story', 'docs', 'deploy', 'promote', 'rollback', 'status', 'approve', 'reject', 'cancel', 'link', 'whoami', 'runs', 'watch', 'login', 'logout', 'tokens']) {
      expect(npx.out).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    }
    expect(npx.out).toContain('Exit codes: 0 succeeded, 1 failed, 2 usage error, 3 rejected or cancelled, 4 not permitted, 5 could not reach the server');
  });

  it('completes commands and their options in bash, from the program itself', async () => {
    const script = await client(['completion', 'bash'], home());
    expect(script.code).toBe(0);
    const file = join(tempDir('cli-completion'), 'autodevhub.bash');
    writeFileSync(file, script.stdout);
    const complete = (words: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('bash', ['-c', `source "$0"; COMP_WORDS=(${words.map((w) => `"${w}"`).join(' ')}); COMP_CWORD=${words.length - 1}; _autodevhub; echo "\${COMPREPLY[*]}"`, file], (err, out) => (err ? reject(err) : resolve(out.trim()))),
      );
    expect(await complete(['autodevhub', 'dep'])).toBe('deploy');
    expect(await complete(['autodevhub', '--server', 'https://x', 'wa'])).toBe('watch');
    expect(await complete(['autodevhub', '--json', 'deploy', '--w'])).toBe('--wait');
    expect(await complete(['autodevhub', 'tokens', ''])).toBe('list create revoke --help');
    expect((await client(['completion', 'fish'], home())).code).toBe(2);
  });

  it('exits 2 on usage errors, locally and as the server judges them, with words and no stack', async () => {
    const env = as(adminToken);
    const cases = [
      [['deploy'], /missing required argument 'target'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['approve', 'tomorrow'], /"tomorrow" is not a run reference like R-1042/],
      [['runs', '--kind', 'build'], /--kind is one of story, docs, deploy/],
      [['runs', '-n', 'abc'], /--limit is a whole number from 1 to 200, not "abc"/],
      [['deploy', 'staging'], /There is no channel here to take the project from: name the repository, as in "deploy acme\/web production"/],
      [['tokens', 'create', 'x', '-s', 'bogus'], /Unknown scope "bogus": use read, run, deploy, approve or admin/],
      [['deploy', 'acme/web', 'staging', 'main', 'extra'], /Unexpected "extra"\.\nUsage: autodevhub deploy \[owner\/repo\] <environment> \[ref\]/],
      // A reference that names no run is a mistake in the arguments: a script must not read it as a failed run.
      [['watch', 'R-99999'], /R-99999/],
      [['status', 'R-99999'], /R-99999/],
    ] as const;
    for (const [args, message] of cases) {
      const r = await client([...args], env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});

describe('autodevhub CLI: credentials', { timeout: 60_000 }, () => {
  it('logs in with a pasted token, keeps it per server with mode 0600, never prints it, and logs out', async () => {
    const env = home();
    const login = startClient(['login', t.url], env);
    login.child.stdin.end(`${adminToken}\n`);
    expect(await login.exited, login.stderr()).toBe(0);
    expect(login.stdout()).toMatch(/Signed in to http:\/\/127\.0\.0\.1:\d+ as web:admin \(token scopes: read, run, deploy, approve, admin\)/);
    const file = join(env.XDG_CONFIG_HOME!, 'autodevhub', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(env.XDG_CONFIG_HOME!, 'autodevhub')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ current: t.url, servers: { [t.url]: { token: adminToken, user: 'web:admin' } } });

    // The stored server and token serve later commands, with no environment.
    const who = await client(['whoami'], env);
    expect(who.code).toBe(0);
    expect(who.stdout).toContain(`web:admin on ${t.url} (admin)`);
    const tokens = await client(['tokens', 'list'], env);
    expect(tokens.stdout).toMatch(/cli read run deploy approve admin/);
    for (const out of [login.stdout(), login.stderr(), who.stdout, who.stderr, tokens.stdout]) expect(out).not.toContain(adminToken);

    const out = await client(['logout'], env);
    expect(out.stdout).toContain(`Signed out of ${t.url}`);
    const after = await client(['whoami', '--server', t.url], env);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain(`Not signed in to ${t.url}: run \`autodevhub login ${t.url}\`, or set AUTODEVHUB_TOKEN.`);
  });

  it('refuses a bad token at login (exit 4) and stores nothing', async () => {
    const env = home();
    const r = await client(['login', t.url, '--token', 'adh_not-a-real-token'], env);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('autodevhub: The API token is not valid: unknown, expired or revoked.');
    expect(() => statSync(join(env.XDG_CONFIG_HOME!, 'autodevhub', 'credentials.json'))).toThrow();
  });
});

describe('autodevhub CLI: stories', { timeout: 60_000 }, () => {
  it('writes a story end to end: plain timestamped progress when not a terminal, the Gherkin with its confidence, and --out', async () => {
    const out = join(tempDir('cli-story'), 'cart.feature');
    const r = await client(['story', ...STORY.split(' '), '--out', out], as(adminToken));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const progress = lines.filter((l) => TIMESTAMPED.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toMatch(/ succeeded done 100% /);
    expect(r.stdout).toMatch(/^# R-\d+ · confidence \d\.\d\d · offline generator$/m);
    expect(r.stdout).toMatch(/^Feature: /m);
    const gherkin = readFileSync(out, 'utf8');
    expect(gherkin).toMatch(/^Feature: /);
    expect(r.stdout).toContain(gherkin.trim());
    expect(r.stderr).toContain(`Wrote ${out}`);
  });

  it('prints one JSON event per line with --json: every seq once, in order, the last one with the story', async () => {
    const r = await client(['--json', 'story', STORY], as(adminToken));
    expect(r.code, r.stderr).toBe(0);
    const events = jsonLines(r.stdout);
    const run = await runOf(events[0]!.ref);
    expectContiguous(events, run.lastSeq);
    expect(events.at(-1)).toMatchObject({ status: 'succeeded', data: { gherkin: expect.stringMatching(/^Feature: /), confidence: expect.any(Number) } });
  });

  it('exits 6, not 1, when no story can be written from the description (needs_input is not a failure), with the reason', async () => {
    const r = await client(['story', 'asdf', 'qwerty', 'zxcv'], as(adminToken));
    expect(r.code).toBe(6);
    expect(r.stderr).not.toMatch(/failed/);
    // The reason and an example, as chat shows them: what to write instead.
    expect(r.stderr).toMatch(/R-\d+ needs input: [A-Z][^\n]* For example: \S+/);
    expect(r.stderr).not.toMatch(/needs input: (gibberish|no_action|placeholder)\b/);
    expect(r.stderr).not.toContain('For example: For example');
  });
});

describe('autodevhub CLI: deploys, approvals and watch', { timeout: 60_000 }, () => {
  it('deploys and waits while an approval is given from chat, and watch shows it live', async () => {
    const deploy = startClient(['deploy', 'acme/web', 'production', 'main', '--wait'], as(adminToken));
    await deploy.waitForOutput(/waiting_approval/);
    const ref = refIn(deploy.stderr())!;
    const watch = startClient(['watch', ref], as(readToken));
    await watch.waitForOutput(/waiting_approval approval/);
    expect(await approveFromSlack(ref)).toBe(200);
    expect(await watch.exited, watch.stderr()).toBe(0);
    expect(await deploy.exited, deploy.stderr()).toBe(0);
    for (const out of [watch.stdout(), deploy.stdout()]) {
      expect(out).toMatch(new RegExp(`^\\S+Z ${ref} running deploy \\d+% Approved by slack:U0LEAD`, 'm'));
      expect(out.trim().split('\n').at(-1)).toMatch(new RegExp(`^\\S+Z ${ref} succeeded `));
    }
    expect((await runOf(ref)).status).toBe('succeeded');
  });

  it('resumes after a dropped connection in the middle of watch: no missed and no doubled events', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: t.app.port! });
    try {
      const ref = await productionDeploy();
      const watch = startClient(['--json', 'watch', ref], as(readToken, `http://127.0.0.1:${proxy.port}`));
      await watch.waitForOutput(/"status":"waiting_approval"/);
      await proxy.cut();
      await watch.waitForOutput(/Connection lost/);
      // Everything after the approval happens while the watcher is cut off.
      expect(await approveFromSlack(ref)).toBe(200);
      await waitFor(async () => (await runOf(ref)).status === 'succeeded', 20_000, `${ref} to succeed`);
      await proxy.restore();
      expect(await watch.exited, watch.stderr()).toBe(0);
      expect(watch.stderr()).toMatch(/Reconnected; resuming R-\d+ after event \d+/);
      // The server replayed only what came after the cursor: the client had nothing to drop.
      expect(watch.stderr()).not.toContain('already shown');
      const events = jsonLines(watch.stdout());
      expectContiguous(events, (await runOf(ref)).lastSeq);
      expect(events.at(-1)).toMatchObject({ status: 'succeeded' });
    } finally {
      await proxy.close();
    }
  });

  it('exits 3 when the deploy is rejected from chat', async () => {
    const ref = await productionDeploy();
    const watch = startClient(['watch', ref], as(readToken));
    await watch.waitForOutput(/waiting_approval/);
    expect(await approveFromSlack(ref, 'deploy_reject')).toBe(200);
    expect(await watch.exited).toBe(3);
    expect(watch.stderr()).toContain(`${ref} was rejected: Rejected by slack:U0LEAD`);
  });

  it('exits 1 when the deploy fails (failing checks)', async () => {
    const r = await client(['deploy', 'acme/web', 'staging', 'broken', '--wait'], as(adminToken));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/R-\d+ failed: /);
  });

  it('Ctrl-C while watching stops watching and asks before cancelling: no keeps the run, yes cancels it (exit 3)', async () => {
    const ref = await productionDeploy();
    const keep = startClient(['watch', ref], as(adminToken));
    await keep.waitForOutput(/waiting_approval/);
    keep.child.kill('SIGINT');
    await keep.waitForOutput(/Cancel the run too\? \[y\/N\]/);
    keep.child.stdin.end('n\n');
    expect(await keep.exited).toBe(130);
    expect(keep.stderr()).toContain(`${ref} goes on. Follow it again with: autodevhub watch ${ref}`);
    expect((await runOf(ref)).status).toBe('waiting_approval');

    const stop = startClient(['watch', ref], as(adminToken));
    await stop.waitForOutput(/waiting_approval/);
    stop.child.kill('SIGINT');
    await stop.waitForOutput(/Cancel the run too\?/);
    stop.child.stdin.write('y\n');
    expect(await stop.exited).toBe(3);
    expect(stop.stdout()).toContain(`${ref} cancelled.`);
    expect((await runOf(ref)).status).toBe('cancelled');
  });

  it('approves (and follows), rejects and cancels from the CLI, and shows one run with status', async () => {
    const approved = await productionDeploy();
    const own = await client(['approve', approved], as(adminToken));
    expect([own.code, own.stderr]).toEqual([4, `autodevhub: You requested ${approved}; someone else must approve it.\n`]);
    const approve = await client(['approve', approved, 'looks', 'good', '--wait'], as(leadToken));
    expect(approve.code, approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(new RegExp(`^${approved} approved; deploying\\.\\n`));
    expect(approve.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^\\S+Z ${approved} succeeded `));

    const rejected = await productionDeploy();
    const reject = await client(['reject', rejected.toLowerCase().replace('-', ''), 'not', 'today'], as(leadToken));
    expect([reject.code, reject.stdout]).toEqual([0, `${rejected} rejected.\n`]);
    expect(await runOf(rejected)).toMatchObject({ status: 'failed', error: 'Rejected by slack:U0LEAD: not today' });

    const cancelled = await productionDeploy();
    const cancel = await client(['cancel', cancelled], as(adminToken));
    expect([cancel.code, cancel.stdout]).toEqual([0, `${cancelled} cancelled.\n`]);
    const again = await client(['approve', cancelled], as(leadToken));
    expect(again.code).toBe(1);

    const status = await client(['status', cancelled], as(readToken));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${cancelled} deploy: `));
    expect(again.stderr).toBe(`autodevhub: ${cancelled} is not waiting for approval (it is cancelled).\n`);
  });

  it('links a channel to a project by its repository, through the projects API', async () => {
    const bare = await client(['link', 'acme/web'], as(adminToken));
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Name the channel to link: autodevhub link acme/web --channel slack:C0123');
    const linked = await client(['link', 'acme/web', '--channel', 'slack:C0CLI'], as(adminToken));
    expect([linked.code, linked.stdout]).toEqual([0, 'slack:C0CLI is now linked to acme/web (project web); commands there may leave out the repository.\n']);
    const { projects } = (await (await fetch(`${t.url}/api/v1/projects`, { headers: { authorization: `Bearer ${readToken}` } })).json()) as { projects: Array<{ key: string; channels: string[] }> };
    expect(projects.find((p) => p.key === 'web')!.channels).toContain('slack:C0CLI');
    const refused = await client(['link', 'acme/web', '--channel', 'slack:C0NOPE'], as(readToken));
    expect(refused.code).toBe(4);
  });

  it('lists runs with filters, as lines and as JSON', async () => {
    const lines = await client(['runs', '--kind', 'deploy', '--status', 'cancelled'], as(readToken));
    expect(lines.code).toBe(0);
    expect(lines.stdout.split('\n')[0]).toMatch(/^RUN\s+KIND\s+STATUS\s+STAGE\s+PROJECT\s+BY\s+STARTED \(UTC\)\s+WHAT$/);
    expect(lines.stdout).toMatch(/^R-\d+\s+deploy\s+cancelled\s+/m);
    const json = jsonLines((await client(['--json', 'runs', '--kind', 'story', '-n', '2'], as(readToken))).stdout);
    expect(json.length).toBe(2);
    expect(json.every((r) => r.kind === 'story')).toBe(true);
  });
});

describe('autodevhub CLI: the other verbs and tokens', { timeout: 60_000 }, () => {
  it('sends docs, promote and rollback as chat would, with the server’s answers', async () => {
    const docs = await client(['docs', 'acme/web', 'v1.2.0...main'], as(adminToken));
    expect(docs.code).toBe(0);
    expect(docs.stdout).toMatch(/^Queued R-\d+: Document acme\/web v1\.2\.0\.\.\.main\. Follow it at http/);
    const promote = await client(['promote', refIn(docs.stdout)!], as(adminToken));
    expect([promote.code, promote.stderr]).toEqual([2, `autodevhub: ${refIn(docs.stdout)} is not a deploy; only deploys can be promoted.\n`]);
    const rollback = await client(['rollback', 'qa', 'web'], as(adminToken));
    expect([rollback.code, rollback.stderr]).toEqual([1, 'autodevhub: Nothing has been deployed to qa by AutoDevHub; there is nothing to roll back.\n']);
    const help = await client(['help', 'rollback'], home());
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: autodevhub rollback \[options\] <environment> \[project\]/);
  });

  it('makes, lists and revokes tokens; a revoked token is refused', async () => {
    const made = await client(['tokens', 'create', 'ci deploys', '--scope', 'read,deploy', '--ttl-days', '7'], as(adminToken));
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^adh_\S+$/);
    expect(made.stderr).toMatch(/^Token (\d+) "ci deploys" \(read, deploy\), expires \d{4}-\d\d-\d\d\. It is shown once/);
    const id = /^Token (\d+)/.exec(made.stderr)![1]!;
    const listed = jsonLines((await client(['--json', 'tokens'], as(adminToken))).stdout);
    expect(listed.find((x) => String(x.id) === id)).toMatchObject({ name: 'ci deploys', scopes: ['read', 'deploy'] });
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await client(['whoami'], as(token))).stdout).toContain('token scopes: read, deploy');
    const revoked = await client(['tokens', 'revoke', id], as(adminToken));
    expect([revoked.code, revoked.stdout]).toEqual([0, `Token ${id} revoked.\n`]);
    expect((await client(['whoami'], as(token))).code).toBe(4);
    expect((await client(['tokens', 'create', 'x'], as(adminToken))).code).toBe(2);
  });
});

describe('autodevhub CLI: refusals', { timeout: 60_000 }, () => {
  it('exits 4 when not permitted: the API message, never the token', async () => {
    const r = await client(['deploy', 'acme/web', 'staging'], as(readToken));
    expect(r.code).toBe(4);
    expect(r.stderr).toBe('autodevhub: Not allowed: this API token does not have the "deploy" scope needed to deploy. Make a token with it in the console (API tokens) or with POST /api/v1/tokens.\n');
    const bad = await client(['runs'], as('adh_revoked-or-made-up'));
    expect(bad.code).toBe(4);
    expect(bad.stderr).not.toContain('adh_revoked-or-made-up');
  });

  it('exits 5 when the server cannot be reached', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port: t.app.port! });
    const url = `http://127.0.0.1:${proxy.port}`;
    await proxy.close();
    const r = await client(['runs'], as(adminToken, url));
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`^autodevhub: Could not reach ${url} \\(ECONNREFUSED\\)\\.\\n$`));
    // Not signed in there either: the address is the problem to fix first, so still exit 5.
    const unknown = await client(['runs', '--server', url], home());
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(new RegExp(`^autodevhub: Could not reach ${url} \\(ECONNREFUSED\\)\\. \\(You are not signed in there either\\.\\)\\n$`));
  });

  it('ends quietly when the reader of its output goes away (| head)', async () => {
    const piped = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const sh = execFile('bash', ['-c', `node ${JSON.stringify(CLIENT_BIN)} story ${STORY} | head -1`], { env: { PATH: process.env.PATH ?? '', ...as(adminToken) }, timeout: 45_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      sh.stdin?.end();
    });
    expect(piped.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(piped.stderr).not.toMatch(/EPIPE|at \S+ \(|Error/);
  });
});

describe('live feed with API tokens (the CLI’s stream)', { timeout: 60_000 }, () => {
  it('accepts a token with the read scope, refuses one without it, and disconnects a token when it is revoked', async () => {
    const runOnly = await makeToken(cookie, ['run']);
    await expect(connectFeed(t.url, undefined, { token: runOnly.token })).rejects.toThrow(/^forbidden: Not allowed: this API token does not have the "read" scope/);
    await expect(connectFeed(t.url, undefined, { token: 'adh_made-up' })).rejects.toThrow(/^unauthorized: the API token is unknown, expired or revoked/);

    const reader = await makeToken(cookie, ['read']);
    const { socket } = await connectFeed(t.url, undefined, { token: reader.token });
    const reply = await socket.emitWithAck('subscribe', { project: 'web' });
    expect(reply).toMatchObject({ ok: true });
    const gone = new Promise((resolve) => socket.once('disconnect', resolve));
    expect((await fetch(`${t.url}/api/v1/tokens/${reader.id}`, { method: 'DELETE', headers: { cookie } })).status).toBe(204);
    await gone;
    socket.close();
  });
});
