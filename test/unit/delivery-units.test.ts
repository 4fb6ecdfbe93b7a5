import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseCommand } from '../../src/core/commands/grammar.js';
import { areaOf, changeFacts, createOfflineChangeSummariser } from '../../src/core/deploys/changes.js';
import { createClaudeChangeSummariser } from '../../src/core/deploys/changes-claude.js';
import { featurePaths, featureSlug, stepDefinitions } from '../../src/core/exports/features.js';
import { forbiddenAddress, guardedPost, parseCidrs, RefusedAddress } from '../../src/core/notify/net.js';
import { sign, verifySignature } from '../../src/core/notify/webhooks.js';
import { ConfigError, loadConfig } from '../../src/core/config.js';
import { nextEnvironment, policyFor } from '../../src/core/deploys/policy.js';
import { startFakeAnthropic } from '../fakes/anthropic.js';
import { tempDir } from '../helpers/tmp.js';

describe('grammar: promote, rollback, story options', () => {
  it.each([
    ['promote r42', { verb: 'promote', run: 'R-42' }],
    ['rollback production', { verb: 'rollback', environment: 'production' }],
    ['rollback production web', { verb: 'rollback', environment: 'production', project: 'web' }],
    ['rollback acme/web staging', { verb: 'rollback', environment: 'staging', project: 'acme/web' }],
    ['story As a user I want to export CSV --issue', { verb: 'story', description: 'As a user I want to export CSV', exports: ['issue'] }],
    ['story As a user I want to export CSV --pr --issue', { verb: 'story', description: 'As a user I want to export CSV', exports: ['issue', 'pull_request'] }],
    ['story As a user I want the --issue flag explained', { verb: 'story', description: 'As a user I want the --issue flag explained' }],
  ])('%s', (text, command) => {
    expect(parseCommand(text)).toEqual({ ok: true, command });
  });

  it.each([
    ['promote', /Name the deploy run to promote/],
    ['promote production', /Name the deploy run to promote/],
    ['rollback', /Name the environment to roll back/],
    ['rollback production web extra', /Unexpected "web extra"/],
    ['story --issue', /Describe the feature after "story"/],
  ])('answers %s with usage', (text, error) => {
    const parsed = parseCommand(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('change summary', () => {
  it.each([
    ['migrations/0042_add_totals.sql', 'migrations'],
    ['db/migrate/20240101_create_users.rb', 'migrations'],
    ['package-lock.json', 'dependencies'],
    ['services/api/go.mod', 'dependencies'],
    ['Dockerfile', 'infrastructure'],
    ['deploy/k8s.yaml', 'infrastructure'],
    ['infra/main.tf', 'infrastructure'],
    ['.github/workflows/ci.yml', 'ci'],
    ['src/api/orders.ts', 'src/api'],
    ['test/unit/orders.test.ts', 'tests'],
    ['README.md', 'docs'],
    ['scripts/build.sh', 'scripts'],
  ])('puts %s in %s', (file, area) => {
    expect(areaOf(file)).toBe(area);
  });

  it('lists commits newest first, authors once, areas by size, and the offline summary in words', async () => {
    const facts = changeFacts({
      base: '1'.repeat(40), head: '2'.repeat(40), direction: 'forward',
      compare: {
        commits: [{ sha: 'a'.repeat(40), message: 'First\n\nbody', author: 'Ann' }, { sha: 'b'.repeat(40), message: 'Second', author: 'Bob' }, { sha: 'c'.repeat(40), message: 'Third', author: 'Ann' }],
        files: [{ filename: 'src/web/a.ts', status: 'modified' }, { filename: 'src/web/b.ts', status: 'added' }, { filename: 'Dockerfile', status: 'modified' }],
        totalCommits: 3,
        url: 'https://github.com/acme/web/compare/1...2',
      },
    });
    expect(facts.commits.map((c) => c.subject)).toEqual(['Third', 'Second', 'First']);
    expect(facts.authors).toEqual(['Ann', 'Bob']);
    expect(facts.areas.map((a) => [a.area, a.files])).toEqual([['src/web', 2], ['infrastructure', 1]]);
    expect(facts.risks.map((r) => r.kind)).toEqual(['infrastructure']);
    const summary = await createOfflineChangeSummariser().summarise(facts);
    expect(summary.generator).toBe('offline summariser');
    expect(summary.summary).toBe('This deploy brings 3 commits by Ann and Bob across 3 files, mostly in src/web (2 files) and infrastructure (1 file). It touches infrastructure or config.');
    expect((await createOfflineChangeSummariser().summarise(changeFacts({ base: null, head: '2'.repeat(40), direction: 'first', compare: null }))).summary).toMatch(/Nothing has been deployed to this environment/);
  });

  it('has Claude write the prose when a key is set, labelled, and falls back to the offline summariser, labelled, when Claude fails', async () => {
    const facts = changeFacts({ base: '1'.repeat(40), head: '2'.repeat(40), direction: 'forward', compare: { commits: [{ sha: 'a'.repeat(40), message: 'Add invoices', author: 'Ann' }], files: [{ filename: 'migrations/1.sql', status: 'added' }], totalCommits: 1, url: null } });
    const anthropic = await startFakeAnthropic({ apiKey: 'sk-test', script: [{ text: 'Adds invoices. The migration adds a table; check it on a copy first.' }, { status: 529, type: 'overloaded_error', message: 'Overloaded' }] });
    try {
      const claude = createClaudeChangeSummariser({ apiKey: 'sk-test', baseUrl: anthropic.url, model: 'claude-test', logger: pino({ level: 'silent' }) });
      const written = await claude.summarise(facts);
      expect(written).toMatchObject({ generator: 'Claude (claude-test)', summary: 'Adds invoices. The migration adds a table; check it on a copy first.' });
      const body = JSON.parse(anthropic.requests[0]!.body) as { messages: Array<{ content: string }> };
      expect(body.messages[0]!.content).toContain('- Add invoices (Ann)');
      expect(body.messages[0]!.content).toContain('- migrations: migrations/1.sql');
      const fallback = await claude.summarise(facts);
      expect(fallback.generator).toBe('offline summariser (Claude unavailable)');
      expect(fallback.summary).toMatch(/^This deploy brings 1 commit by Ann/);
    } finally {
      await anthropic.close();
    }
  });
});

describe('feature files and step definition skeletons', () => {
  const gherkin = `Feature: Reset a forgotten password
  Background:
    Given I am on the sign-in page
  Scenario: Reset link by email
    When I ask for a reset link for "ann@acme.test"
    Then I receive an email within 5 minutes
    And I receive an email within 5 minutes
  Scenario Outline: Link age
    Given a reset link that is <age> hours old
    When I open it
    Then it is <result>
    Examples:
      | age | result |
      | 1   | accepted |
      | 25  | refused |
`;

  it('writes one pending cucumber-js step per distinct step, with Cucumber Expressions for numbers and strings', () => {
    const out = stepDefinitions(gherkin, { featurePath: 'features/reset.feature', story: 'story 9, version 2' });
    expect(out.split('\n').slice(0, 3)).toEqual([
      '// Step definitions for features/reset.feature (story 9, version 2).',
      '// Skeletons written by AutoDevHub: every step is pending until it is implemented.',
      "import { Given, When, Then } from '@cucumber/cucumber';",
    ]);
    expect(out).toContain("Given('I am on the sign-in page', async function () {");
    expect(out).toContain("When('I ask for a reset link for {string}', async function (string: string) {");
    expect(out).toContain("Then('I receive an email within {int} minutes', async function (int: number) {");
    expect(out).toContain("Given('a reset link that is {int} hours old', async function (int: number) {");
    expect(out).toContain("Then('it is accepted', async function () {");
    expect(out).toContain("Then('it is refused', async function () {");
    expect(out.match(/I receive an email within/g)).toHaveLength(2); // the expression and its comment, once
    expect(out.match(/return 'pending';/g)).toHaveLength(7);
  });

  it('names files from the feature, under the configured paths', () => {
    expect(featureSlug('Reset a forgotten password!', 'story-1')).toBe('reset-a-forgotten-password');
    expect(featureSlug('Überweisung prüfen', 'story-1')).toBe('uberweisung-prufen');
    expect(featureSlug('???', 'story-7')).toBe('story-7');
    expect(featurePaths({ features: { path: 'features/' } }, 'x')).toEqual({ feature: 'features/x.feature', steps: 'features/step_definitions/x.steps.ts' });
    expect(featurePaths({ features: { path: './specs', steps_path: 'specs/steps' } }, 'x')).toEqual({ feature: 'specs/x.feature', steps: 'specs/steps/x.steps.ts' });
  });
});

describe('outgoing webhooks: signatures and private addresses', () => {
  it('signs the timestamp and the raw body, and refuses a wrong secret, a changed body or an old timestamp', () => {
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const headers = { 'x-autodevhub-timestamp': String(ts), 'x-autodevhub-signature': sign('s3cret', ts, '{"a":1}') };
    // The documented format, computed independently: what a receiver in another language does.
    expect(headers['x-autodevhub-signature']).toBe(`sha256=${createHmac('sha256', 's3cret').update(`${ts}.{"a":1}`).digest('hex')}`);
    expect(verifySignature('s3cret', headers, '{"a":1}', now)).toBe(true);
    expect(verifySignature('other', headers, '{"a":1}', now)).toBe(false);
    expect(verifySignature('s3cret', headers, '{"a":2}', now)).toBe(false);
    expect(verifySignature('s3cret', headers, '{"a":1}', now + 301_000)).toBe(false);
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['192.168.0.10', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['0.0.0.0', 'unspecified'],
  ])('refuses %s (%s)', (address, range) => {
    expect(forbiddenAddress(address, [])).toBe(`${address} is a ${range} address`);
  });

  it('lets public addresses through, and private ones only inside an allowed range', () => {
    expect(forbiddenAddress('140.82.112.3', [])).toBeUndefined();
    expect(forbiddenAddress('2606:4700::1111', [])).toBeUndefined();
    expect(forbiddenAddress('10.1.2.3', parseCidrs(['10.0.0.0/8']))).toBeUndefined();
    expect(forbiddenAddress('10.1.2.3', parseCidrs(['10.9.0.0/16']))).toMatch(/private/);
  });

  it('refuses a DNS name that resolves to loopback, before connecting, unless the range is allowed', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      await expect(guardedPost(`http://localhost:${port}/hook`, '{}', {}, { timeoutMs: 2000, allowedCidrs: [] })).rejects.toThrow(RefusedAddress);
      await expect(guardedPost(`http://localhost:${port}/hook`, '{}', {}, { timeoutMs: 2000, allowedCidrs: [] })).rejects.toThrow(/localhost resolves to (127\.0\.0\.1|::1) is a loopback address/);
      await expect(guardedPost(`http://127.0.0.1:${port}/hook`, '{}', {}, { timeoutMs: 2000, allowedCidrs: [] })).rejects.toThrow(/127\.0\.0\.1 is a loopback address/);
      expect(hits).toBe(0);
      const ok = await guardedPost(`http://127.0.0.1:${port}/hook`, '{}', {}, { timeoutMs: 2000, allowedCidrs: ['127.0.0.1/32'] });
      expect(ok).toEqual({ status: 200, body: 'ok' });
      expect(hits).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe('configuration of the delivery flow', () => {
  const base = { DATA_DIR: tempDir('cfg'), AUTODEVHUB_SECRET: 'x'.repeat(32) };
  const file = (yaml: string) => {
    const p = join(tempDir('yaml'), 'c.yaml');
    writeFileSync(p, yaml);
    return p;
  };

  it('reads promotion, smoke checks, rollback policies, trackers, webhooks and emails', () => {
    const c = loadConfig({
      ...base,
      HOOK: 'h'.repeat(20),
      AUTODEVHUB_CONFIG: file(`emails: { "slack:U1": a@b.test }
projects:
  - key: web
    repo: acme/web
    promotion: [staging, production]
    issues: { tracker: jira, project: WEB }
    webhooks: [{ url: "https://hooks.acme.test/x", secret_env: HOOK, statuses: [failed] }]
    environments:
      staging: { smoke_check: { url: "https://staging.acme.test/health", timeout: 3s, retries: 2, interval: 2s }, auto_rollback: true }
      production: { requires: staging, smoke_check: { url: environment_url, github_status: true }, rollback: { required_approvals: 0 } }
`),
    });
    const p = c.projects[0]!;
    expect(p.promotion).toEqual(['staging', 'production']);
    expect(p.environments.staging!.smoke_check).toEqual({ url: 'https://staging.acme.test/health', timeout: 3000, retries: 2, interval: 2000, github_status: false });
    expect(p.environments.production).toMatchObject({ requires: 'staging', smoke_check: { url: 'environment_url', github_status: true }, rollback: { required_approvals: 0 } });
    expect(p.webhooks).toEqual([{ url: 'https://hooks.acme.test/x', kinds: [], statuses: ['failed'], secret: 'h'.repeat(20) }]);
    expect(c.emails).toEqual({ 'slack:U1': 'a@b.test' });
    expect(c.webhooks.allowPrivateCidrs).toEqual([]);
  });

  it.each([
    ['projects:\n  - key: web\n    promotion: [staging, prod]\n    environments: { staging: {} }\n', /promotion names "prod", which is not one of its environments/],
    ['projects:\n  - key: web\n    environments: { production: { requires: qa } }\n', /requires "qa", which is not one of its environments/],
    ['projects:\n  - key: web\n    environments: { production: { smoke_check: { retries: 2 } } }\n', /name a url, or set github_status: true/],
    ['projects:\n  - key: web\n    webhooks: [{ url: "https://x.test/", secret_env: MISSING_SECRET }]\n', /MISSING_SECRET: the signing secret of web's webhook https:\/\/x\.test\/ must be set/],
    ['projects:\n  - key: web\n    issues: { tracker: trello }\n', /issues/],
  ])('names what is wrong: %#', (yaml, message) => {
    expect(() => loadConfig({ ...base, AUTODEVHUB_CONFIG: file(yaml) })).toThrow(message);
  });

  it('applies the rollback policy to rollbacks only, and knows the next step of the pipeline', () => {
    const c = loadConfig({
      ...base,
      AUTODEVHUB_CONFIG: file(`projects:
  - key: web
    promotion: [staging, production]
    environments:
      staging: {}
      production: { approvers: ["slack:A", "slack:B"], required_approvals: 2, rollback: { required_approvals: 1, timeout: 10m } }
`),
    });
    const p = c.projects[0]!;
    expect(policyFor(p, 'production', { input: { trigger: 'command' } })).toMatchObject({ required_approvals: 2, timeout: 3_600_000 });
    expect(policyFor(p, 'production', { input: { trigger: 'promote' } }).required_approvals).toBe(2);
    expect(policyFor(p, 'production', { input: { trigger: 'rollback' } })).toMatchObject({ required_approvals: 1, timeout: 600_000, approvers: ['slack:A', 'slack:B'] });
    expect(policyFor(p, 'production', { input: { trigger: 'auto_rollback' } }).required_approvals).toBe(1);
    expect(nextEnvironment(p, 'staging')).toBe('production');
    expect(nextEnvironment(p, 'production')).toBeUndefined();
  });

  it('names a bad SMTP URL or allowed range', () => {
    expect(() => loadConfig({ ...base, SMTP_URL: 'mail.acme.test' })).toThrow(/SMTP_URL: must be an smtp:\/\//);
    expect(() => loadConfig({ ...base, WEBHOOK_ALLOW_PRIVATE_CIDRS: '127.0.0.1' })).toThrow(ConfigError);
  });
});
