import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { markdownBody, type IssueInput } from '../../src/core/exports/issue-body.js';
import { cachedProbe, readiness, type Probe } from '../../src/readiness.js';
import { createGitHub } from '../../src/core/github/client.js';
import type { CoreMetrics } from '../../src/core/metrics.js';
import { startFakeServer, sendJson } from '../fakes/http.js';
import { sanitisedExcerpt } from '../../src/core/deploys/smoke.js';

/** Issue 22's low items that need no running service: issue markup, /readyz caching, metric routes. */

const story = (over: Partial<IssueInput>): IssueInput => ({
  title: 'Save the cart',
  description: 'As a shopper I want to save my cart.',
  gherkin: 'Feature: Cart\n  Scenario: Save\n    Given a cart\n',
  scenarios: ['Save'],
  openQuestions: [],
  storyId: 7,
  version: 1,
  runRef: 'R-1',
  runUrl: 'https://adh.example.com/runs/R-1',
  labels: [],
  ...over,
});

describe('6. story text in issues is inert', () => {
  const hostile = [
    'Ping @acme/security and @octocat, fixes #1, closes acme/web#2 and GH-3.',
    '![pixel](https://tracker.example.com/p.gif?u=1) <img src="https://tracker.example.com/q.gif">',
    '<details><summary>Click</summary>hidden</details>',
    '[click me](javascript:alert(document.cookie)) and [ok](https://acme.example.com) and <javascript:alert(1)>',
    '[ref]: javascript:alert(2)',
  ].join('\n');
  const body = markdownBody(story({ description: hostile, scenarios: ['Mention @team in #4'], openQuestions: ['Ask @lead about #5?'] }));
  // Everything but the Gherkin block and AutoDevHub's own marker comment.
  const prose = (body.split('```')[0]! + body.split('```')[2]!).replace(/^<!-- AutoDevHub-Story: \d+ -->$/m, '');

  it('GitHub: no @mentions, no issue references, no images, no raw HTML', () => {
    // What GitHub would act on: @name, #123 references, ![image](…), and <tags>.
    expect(prose).not.toMatch(/(^|[^\w`])@[\w-]/);
    expect(prose).not.toMatch(/#\d/);
    expect(prose).not.toMatch(/\bGH-\d/);
    expect(prose).not.toMatch(/(^|[^\\])!\[/);
    expect(prose).not.toMatch(/(^|[^\\])<[a-z/!]/i);
    // The words are still there to read.
    expect(prose).toContain('octocat');
    expect(prose).toContain('details');
  });

  it('Linear: no javascript: links, http(s) links kept', () => {
    expect(prose).not.toMatch(/\]\(\s*javascript:/i);
    expect(prose).not.toMatch(/javascript:/i);
    expect(prose).toContain('[ok](https://acme.example.com)');
    expect(prose).toContain('click me (link removed)');
  });

  it('the Gherkin block cannot be closed from inside', () => {
    const b = markdownBody(story({ gherkin: 'Feature: X\n  """\n  ```\n  ````\n  """\n' }));
    const fence = /^(`{3,})gherkin$/m.exec(b)![1]!;
    expect(fence.length).toBe(5);
  });
});

describe('1. what of a check’s answer may be published', () => {
  it('a short excerpt without markup or credentials', () => {
    const e = sanitisedExcerpt('<h1>Error</h1> INTERNAL-ONLY-SECRET: db_password=hunter2 api_key: "abc def" Bearer eyJhbGciOiJIUzI1NiJ9abcdefghijkl and more text '.repeat(3));
    expect(e.length).toBeLessThanOrEqual(80);
    for (const s of ['hunter2', 'abc def', 'eyJhbGci', '<h1>']) expect(e).not.toContain(s);
    expect(e).toMatch(/^Error /);
  });
});

describe('11. /readyz asks outside services at most once per cache time', () => {
  it('reuses an outside check’s outcome (answer or failure) within the time, and asks again after', async () => {
    let calls = 0;
    let failing = false;
    const outside: Probe = { name: 'slack', critical: false, check: async () => { calls++; if (failing) throw new Error('down'); } };
    const probes = [cachedProbe(outside, 300), { name: 'database', critical: true, check: async () => undefined }];
    for (let i = 0; i < 20; i++) expect((await readiness(probes)).checks.slack!.status).toBe('up');
    expect(calls).toBe(1);
    failing = true;
    await new Promise((r) => setTimeout(r, 350));
    expect((await readiness(probes)).checks.slack!.status).toBe('degraded');
    expect((await readiness(probes)).checks.slack!.status).toBe('degraded');
    expect(calls).toBe(2);
  });
});

describe('13. GitHub requests are measured by route template', () => {
  it('labels paginated pages (full URLs with a SHA) by the template, one series per route', async () => {
    const sha = 'e'.repeat(40);
    const fake = await startFakeServer((req, res) => {
      const url = new URL(req.path, 'http://x');
      if (url.pathname.endsWith('/status')) return sendJson(res, 200, { state: 'success', statuses: [] });
      if (url.pathname.endsWith('/check-runs')) {
        const page = Number(url.searchParams.get('page') ?? 1);
        // GitHub's Link header names the next page by the repository's id, as it does.
        const next = page < 3 ? { link: `<${fake.url}/repositories/4242/commits/${sha}/check-runs?per_page=100&page=${page + 1}>; rel="next"` } : undefined;
        return sendJson(res, 200, { total_count: 3, check_runs: [{ name: `c${page}`, status: 'completed', conclusion: 'success', html_url: null }] }, next);
      }
      return sendJson(res, 404, { message: 'Not Found' });
    });
    const routes: string[] = [];
    const metrics = { githubCall: (c: { route: string }) => routes.push(c.route), githubRateLimit: () => undefined } as unknown as CoreMetrics;
    try {
      const gh = createGitHub({ token: 't', apiUrl: fake.url, logger: pino({ level: 'silent' }), metrics });
      await gh.gate('acme/web', sha, []);
      expect(routes).toHaveLength(4);
      expect(new Set(routes)).toEqual(new Set(['/repos/{owner}/{repo}/commits/{ref}/status', '/repos/{owner}/{repo}/commits/{sha}/check-runs', '/repositories/{repository_id}/commits/{sha}/check-runs']));
      expect(routes.join()).not.toContain(sha);
    } finally {
      await fake.close();
    }
  });
});
