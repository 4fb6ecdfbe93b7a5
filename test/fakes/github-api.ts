import { startFakeServer, sendJson, type RecordedRequest } from './http.js';
import type { ServerResponse } from 'node:http';

export interface FakeCheckRun {
  name: string;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'neutral' | 'cancelled' | 'skipped' | 'timed_out' | 'action_required' | null;
}
export interface FakeStatus {
  context: string;
  state: 'success' | 'pending' | 'failure' | 'error';
}
export interface FakeDeployment {
  id: number;
  sha: string;
  ref: string;
  environment: string;
  payload: Record<string, unknown>;
  description: string | null;
  statuses: Array<{ id: number; state: string; environment_url: string; log_url: string; target_url: string; created_at: string }>;
}

/**
 * The GitHub REST API endpoints the deploy workflow uses, with response shapes as GitHub
 * documents them. Rate-limit modes answer the next requests with 429 + retry-after, or 403 with
 * x-ratelimit-remaining: 0 and x-ratelimit-reset, as GitHub does.
 */
export async function startFakeGitHub(opts: { token: string }) {
  const repos = new Map<string, { default_branch: string; refs: Record<string, string> }>();
  const parents = new Map<string, string>();
  const compares = new Map<string, { files: Array<Record<string, unknown>>; commits: Array<{ sha: string; message: string; author?: string }> }>();
  const issues: Array<{ repo: string; number: number; title: string; body: string; labels: string[] }> = [];
  const contents = new Map<string, { content: string; sha: string }>();
  const branches = new Map<string, string>();
  const pulls: Array<{ number: number; head: string; base: string; title: string; body: string; state: string }> = [];
  const commitsMade: Array<{ branch: string; path: string; message: string; content: string }> = [];
  const checks = new Map<string, { statuses: FakeStatus[]; runs: FakeCheckRun[] }>();
  const deployments: FakeDeployment[] = [];
  let nextId = 1000;
  let used = 0;
  const limits: Array<{ match: RegExp; kind: '429' | '403' }> = [];
  const hooks: { onDeploymentCreated?: (d: FakeDeployment) => void; failCreateOnce?: boolean; failIssueOnce?: boolean; issueDelayMs?: number } = {};
  const limited: RecordedRequest[] = [];

  const api = (path: string) => path.replace(/^\/api\/v3/, '');

  const fake = await startFakeServer((req, res) => {
    const auth = String(req.headers.authorization ?? '');
    if (auth !== `token ${opts.token}` && auth !== `Bearer ${opts.token}`) {
      return sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
    }
    const url = new URL(api(req.path), 'http://x');
    const limit = limits.findIndex((l) => l.match.test(url.pathname));
    if (limit !== -1) {
      const [l] = limits.splice(limit, 1);
      limited.push(req);
      if (l!.kind === '429') {
        return sendJson(res, 429, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.', documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' }, { 'retry-after': '1' });
      }
      return sendJson(res, 403, { message: 'API rate limit exceeded for user.' }, {
        'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-used': '5000',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 1),
      });
    }
    // GitHub reports the rate limit on every answer; this fake spends one per request.
    used++;
    res.setHeader('x-ratelimit-limit', '5000');
    res.setHeader('x-ratelimit-remaining', String(5000 - used));
    res.setHeader('x-ratelimit-used', String(used));
    res.setHeader('x-ratelimit-resource', 'core');
    if (req.method === 'GET' && url.pathname === '/rate_limit') {
      const core = { limit: 5000, used, remaining: 5000 - used, reset: Math.floor(Date.now() / 1000) + 3600 };
      return sendJson(res, 200, { resources: { core }, rate: core });
    }
    route(req, url, res);
  });

  function route(req: RecordedRequest, url: URL, res: ServerResponse) {
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m) return sendJson(res, 404, { message: 'Not Found' });
    const full = `${m[1]}/${m[2]}`;
    const repo = repos.get(full);
    if (!repo) return sendJson(res, 404, { message: 'Not Found' });
    const rest = m[3] ?? '';
    let r: RegExpExecArray | null;
    if (req.method === 'GET' && rest === '') return sendJson(res, 200, { id: 1, name: m[2], full_name: full, default_branch: repo.default_branch, private: true });
    if (req.method === 'GET' && (r = /^\/commits\/([^/]+)\/status$/.exec(rest))) {
      const sha = repo.refs[decodeURIComponent(r[1]!)] ?? decodeURIComponent(r[1]!);
      const statuses = checks.get(sha)?.statuses ?? [];
      const state = statuses.some((s) => s.state === 'failure' || s.state === 'error') ? 'failure' : statuses.some((s) => s.state === 'pending') || statuses.length === 0 ? 'pending' : 'success';
      return sendJson(res, 200, {
        state, sha, total_count: statuses.length,
        statuses: statuses.map((s, i) => ({ id: i + 1, context: s.context, state: s.state, target_url: `https://ci.example.com/${sha}/${s.context}`, description: s.state })),
      });
    }
    if (req.method === 'GET' && (r = /^\/commits\/([^/]+)\/check-runs$/.exec(rest))) {
      const sha = repo.refs[decodeURIComponent(r[1]!)] ?? decodeURIComponent(r[1]!);
      const runs = checks.get(sha)?.runs ?? [];
      return sendJson(res, 200, {
        total_count: runs.length,
        check_runs: runs.map((c, i) => ({ id: i + 1, head_sha: sha, name: c.name, status: c.status, conclusion: c.status === 'completed' ? (c.conclusion ?? 'success') : null, html_url: `https://github.com/${full}/runs/${i + 1}` })),
      });
    }
    if (req.method === 'GET' && (r = /^\/commits\/([^/]+)$/.exec(rest))) {
      const ref = decodeURIComponent(r[1]!);
      const sha = repo.refs[ref] ?? (Object.values(repo.refs).includes(ref) || parents.has(ref) ? ref : undefined);
      if (!sha) return sendJson(res, 422, { message: `No commit found for SHA: ${ref}`, documentation_url: 'https://docs.github.com/rest/commits/commits#get-a-commit' });
      const parent = parents.get(sha);
      return sendJson(res, 200, { sha, html_url: `https://github.com/${full}/commit/${sha}`, commit: { message: 'release' }, parents: parent ? [{ sha: parent, url: '' }] : [] });
    }
    if (req.method === 'GET' && (r = /^\/compare\/(.+)$/.exec(rest))) {
      const basehead = decodeURIComponent(r[1]!);
      const found = compares.get(basehead);
      if (!found) return sendJson(res, 404, { message: 'Not Found' });
      const [base, head] = basehead.split('...');
      return sendJson(res, 200, {
        status: 'ahead', ahead_by: found.commits.length, behind_by: 0, total_commits: found.commits.length,
        base_commit: { sha: base }, merge_base_commit: { sha: base },
        commits: found.commits.map((c) => ({ sha: c.sha, commit: { message: c.message, author: { name: c.author ?? 'Dev' } } })),
        files: found.files, html_url: `https://github.com/${full}/compare/${base}...${head}`,
      });
    }
    if (rest === '/issues' && req.method === 'POST') {
      const body = JSON.parse(req.body) as { title: string; body: string; labels?: string[] };
      if (!body.title) return sendJson(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Issue', field: 'title', code: 'missing_field' }] });
      const issue = { repo: full, number: issues.filter((i) => i.repo === full).length + 1, title: body.title, body: body.body ?? '', labels: body.labels ?? [] };
      issues.push(issue);
      const answer = () => {
        if (hooks.failIssueOnce) {
          // Made on GitHub's side, but the answer is lost on the way back.
          hooks.failIssueOnce = false;
          return sendJson(res, 502, { message: 'Server Error' });
        }
        sendJson(res, 201, issueJson(full, issue));
      };
      if (hooks.issueDelayMs) return void setTimeout(answer, hooks.issueDelayMs);
      return answer();
    }
    if (rest === '/issues' && req.method === 'GET') {
      const labels = (url.searchParams.get('labels') ?? '').split(',').filter(Boolean);
      const list = issues.filter((i) => i.repo === full && labels.every((l) => i.labels.includes(l))).reverse();
      return sendJson(res, 200, list.map((i) => issueJson(full, i)));
    }
    if (rest === '/git/refs' && req.method === 'POST') {
      const body = JSON.parse(req.body) as { ref: string; sha: string };
      const name = body.ref.replace(/^refs\/heads\//, '');
      if (branches.has(`${full}:${name}`)) return sendJson(res, 422, { message: 'Reference already exists' });
      branches.set(`${full}:${name}`, body.sha);
      // A new branch starts with the files of its base (the default branch's here).
      for (const [k, v] of [...contents]) if (k.startsWith(`${full}:${repo.default_branch}:`)) contents.set(k.replace(`:${repo.default_branch}:`, `:${name}:`), v);
      return sendJson(res, 201, { ref: body.ref, object: { sha: body.sha, type: 'commit' } });
    }
    // Octokit sends the ref URL-encoded (heads%2Fautodevhub%2Fdocs-…), which GitHub accepts.
    if (req.method === 'PATCH' && (r = /^\/git\/refs\/(.+)$/.exec(rest)) && decodeURIComponent(r[1]!).startsWith('heads/')) {
      const name = decodeURIComponent(r[1]!).replace(/^heads\//, '');
      const body = JSON.parse(req.body) as { sha: string };
      branches.set(`${full}:${name}`, body.sha);
      // Force-moving the branch back to the head drops what was committed on it.
      for (const [k, v] of [...contents]) if (k.startsWith(`${full}:${repo.default_branch}:`)) contents.set(k.replace(`:${repo.default_branch}:`, `:${name}:`), v);
      for (const k of [...contents.keys()]) if (k.startsWith(`${full}:${name}:`) && !contents.has(k.replace(`:${name}:`, `:${repo.default_branch}:`))) contents.delete(k);
      return sendJson(res, 200, { ref: `refs/heads/${name}`, object: { sha: body.sha, type: 'commit' } });
    }
    if ((r = /^\/contents\/(.+)$/.exec(rest))) {
      const path = decodeURIComponent(r[1]!);
      if (req.method === 'GET') {
        const ref = url.searchParams.get('ref') ?? repo.default_branch;
        const file = contents.get(`${full}:${ref}:${path}`);
        if (!file) return sendJson(res, 404, { message: 'Not Found' });
        return sendJson(res, 200, { type: 'file', encoding: 'base64', path, name: path.split('/').pop(), sha: file.sha, content: Buffer.from(file.content).toString('base64') });
      }
      if (req.method === 'PUT') {
        const body = JSON.parse(req.body) as { message: string; content: string; branch: string; sha?: string };
        const key = `${full}:${body.branch}:${path}`;
        const existing = contents.get(key);
        if (existing && existing.sha !== body.sha) return sendJson(res, 409, { message: `${path} does not match ${body.sha ?? 'nothing'}` });
        const content = Buffer.from(body.content, 'base64').toString('utf8');
        const sha = `blob${nextId++}`;
        contents.set(key, { content, sha });
        commitsMade.push({ branch: body.branch, path, message: body.message, content });
        return sendJson(res, existing ? 200 : 201, { content: { path, sha }, commit: { sha: `c0ffee${nextId++}`.padEnd(40, '0'), message: body.message } });
      }
    }
    if (rest === '/pulls' && req.method === 'GET') {
      const head = url.searchParams.get('head') ?? '';
      const state = url.searchParams.get('state') ?? 'open';
      const list = pulls.filter((p) => `${m[1]}:${p.head}` === head && (state === 'all' || p.state === state));
      return sendJson(res, 200, list.map((p) => pullJson(full, p)));
    }
    if (rest === '/pulls' && req.method === 'POST') {
      const body = JSON.parse(req.body) as { head: string; base: string; title: string; body: string };
      const p = { number: pulls.length + 1, head: body.head, base: body.base, title: body.title, body: body.body, state: 'open' };
      pulls.push(p);
      return sendJson(res, 201, pullJson(full, p));
    }
    if (req.method === 'PATCH' && (r = /^\/pulls\/(\d+)$/.exec(rest))) {
      const p = pulls.find((x) => x.number === Number(r![1]));
      if (!p) return sendJson(res, 404, { message: 'Not Found' });
      Object.assign(p, JSON.parse(req.body) as Record<string, string>);
      return sendJson(res, 200, pullJson(full, p));
    }
    if (rest === '/deployments' && req.method === 'GET') {
      const sha = url.searchParams.get('sha');
      const env = url.searchParams.get('environment');
      const list = deployments.filter((d) => (!sha || d.sha === sha) && (!env || d.environment === env)).reverse();
      return sendJson(res, 200, list.map((d) => deploymentJson(full, d)));
    }
    if (rest === '/deployments' && req.method === 'POST') {
      const body = JSON.parse(req.body) as { ref: string; environment: string; payload: Record<string, unknown> | string; description?: string };
      const sha = repo.refs[body.ref] ?? body.ref;
      const d: FakeDeployment = {
        id: nextId++, sha, ref: body.ref, environment: body.environment,
        payload: typeof body.payload === 'string' ? (JSON.parse(body.payload) as Record<string, unknown>) : body.payload,
        description: body.description ?? null, statuses: [],
      };
      deployments.push(d);
      hooks.onDeploymentCreated?.(d);
      if (hooks.failCreateOnce) {
        // Created on GitHub's side, but the answer never arrives intact: a crash between
        // "created" and "recorded", from the caller's point of view.
        hooks.failCreateOnce = false;
        return sendJson(res, 502, { message: 'Server Error' });
      }
      return sendJson(res, 201, deploymentJson(full, d));
    }
    if (req.method === 'GET' && (r = /^\/deployments\/(\d+)\/statuses$/.exec(rest))) {
      const d = deployments.find((x) => x.id === Number(r![1]));
      if (!d) return sendJson(res, 404, { message: 'Not Found' });
      const perPage = Number(url.searchParams.get('per_page') ?? 30);
      return sendJson(res, 200, [...d.statuses].reverse().slice(0, perPage));
    }
    return sendJson(res, 404, { message: 'Not Found' });
  }

  function issueJson(full: string, i: (typeof issues)[number]) {
    return { id: 5000 + i.number, number: i.number, title: i.title, body: i.body, state: 'open', labels: i.labels.map((name) => ({ name })), html_url: `https://github.com/${full}/issues/${i.number}` };
  }

  function pullJson(full: string, p: (typeof pulls)[number]) {
    return { number: p.number, state: p.state, title: p.title, body: p.body, head: { ref: p.head }, base: { ref: p.base }, html_url: `https://github.com/${full}/pull/${p.number}` };
  }

  function deploymentJson(full: string, d: FakeDeployment) {
    return {
      id: d.id, sha: d.sha, ref: d.ref, task: 'deploy', environment: d.environment, payload: d.payload, description: d.description,
      url: `https://api.github.com/repos/${full}/deployments/${d.id}`, statuses_url: `https://api.github.com/repos/${full}/deployments/${d.id}/statuses`,
      created_at: new Date().toISOString(), updated_at: new Date().toISOString(),
    };
  }

  return {
    ...fake,
    pulls,
    issues,
    contents,
    commitsMade,
    setParent(sha: string, parent: string) {
      parents.set(sha, parent);
    },
    setCompare(base: string, head: string, files: Array<Record<string, unknown>>, commits: Array<{ sha: string; message: string; author?: string }>) {
      compares.set(`${base}...${head}`, { files, commits });
    },
    setFile(full: string, branch: string, path: string, content: string) {
      contents.set(`${full}:${branch}:${path}`, { content, sha: `blob${nextId++}` });
    },
    deployments,
    limited,
    hooks,
    addRepo(full: string, refs: Record<string, string>, defaultBranch = 'main') {
      repos.set(full, { default_branch: defaultBranch, refs });
    },
    setChecks(sha: string, statuses: FakeStatus[], runs: FakeCheckRun[] = []) {
      checks.set(sha, { statuses, runs });
    },
    addDeploymentStatus(id: number, state: string, environmentUrl = '') {
      const d = deployments.find((x) => x.id === id)!;
      d.statuses.push({ id: d.statuses.length + 1, state, environment_url: environmentUrl, log_url: `https://ci.example.com/deploy/${id}`, target_url: `https://ci.example.com/deploy/${id}`, created_at: new Date().toISOString() });
    },
    rateLimitNext(pathPattern: RegExp, kind: '429' | '403', times = 1) {
      for (let i = 0; i < times; i++) limits.push({ match: pathPattern, kind });
    },
  };
}
