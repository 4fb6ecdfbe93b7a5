import { Octokit } from '@octokit/rest';
import { throttling } from '@octokit/plugin-throttling';
import type { Logger } from 'pino';
import { NotFoundError, PermanentFailure } from '../errors.js';
import type { CoreMetrics } from '../metrics.js';

/**
 * What the workflows need from GitHub, through Octokit pointed at GITHUB_API_URL. Rate limits
 * (403 with x-ratelimit-remaining: 0, 429 with retry-after, secondary limits) are honoured by
 * Octokit's throttling plugin: it waits as GitHub asks and retries, a few times.
 */

export type Repo = {
  owner: string;
  repo: string;
};

export function parseRepo(full: string): Repo {
  const [owner, repo] = full.split('/');
  if (!owner || !repo) throw new NotFoundError(`"${full}" is not a repository like owner/name.`);
  return { owner, repo };
}

export interface CheckItem {
  name: string;
  url: string | null;
}

export interface GateReport {
  state: 'success' | 'pending' | 'failure';
  passing: CheckItem[];
  pending: CheckItem[];
  failing: CheckItem[];
  missing: string[];
}

export interface DeploymentStatus {
  state: string;
  environmentUrl: string | null;
  logUrl: string | null;
}

export interface ChangedFile {
  filename: string;
  status: string;
  additions: number;
  deletions: number;
  /** The unified diff of the file; absent for binary files and very large diffs. */
  patch: string | undefined;
}

export interface GitHubGateway {
  defaultBranch(repo: string): Promise<string>;
  parentOf(repo: string, sha: string): Promise<string | undefined>;
  compare(repo: string, base: string, head: string): Promise<{ files: ChangedFile[]; commits: Array<{ sha: string; message: string; author: string }>; totalCommits: number; url: string | null }>;
  /** Creates the branch at `sha`, or moves it there when it exists. */
  ensureBranch(repo: string, branch: string, sha: string): Promise<void>;
  readFile(repo: string, path: string, ref: string): Promise<{ content: string; sha: string } | undefined>;
  /** Commits the file on the branch; returns the commit SHA. */
  writeFile(repo: string, input: { path: string; branch: string; content: string; message: string; sha?: string }): Promise<string>;
  /** Opens a pull request from `branch`, or updates the open one; returns its URL and whether it was new. */
  upsertPullRequest(repo: string, input: { branch: string; base: string; title: string; body: string }): Promise<{ url: string; number: number; created: boolean }>;
  resolveRef(repo: string, ref?: string): Promise<{ sha: string; ref: string; url: string | null }>;
  gate(repo: string, sha: string, requiredChecks: string[]): Promise<GateReport>;
  findDeployment(repo: string, sha: string, environment: string, runRef: string): Promise<{ id: number } | undefined>;
  createDeployment(repo: string, sha: string, environment: string, runRef: string, description: string): Promise<{ id: number }>;
  latestDeploymentStatus(repo: string, id: number): Promise<DeploymentStatus | undefined>;
  /** Readiness: the API answers with the token (GET /rate_limit, which costs no quota). */
  probe(signal: AbortSignal): Promise<{ remaining: number; limit: number }>;
  createIssue(repo: string, input: { title: string; body: string; labels: string[] }): Promise<{ number: number; url: string }>;
  /** The issue carrying `label` (exactly that label; never a match on text anyone can write). */
  findIssueByLabel(repo: string, label: string): Promise<{ number: number; url: string } | undefined>;
}

export class TransientGitHubError extends Error {
  override name = 'TransientGitHubError';
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err && 'status' in err ? Number((err as { status: unknown }).status) : undefined;
}

function classify(err: unknown, what: string): Error {
  const status = statusOf(err);
  if (status === 401) return new PermanentFailure(`GitHub rejected GITHUB_TOKEN (401) while ${what}.`);
  if (status === 403 || status === 429 || status === undefined || status >= 500) {
    return new TransientGitHubError(`GitHub did not answer while ${what} (${status ?? (err as Error).message}).`);
  }
  return new PermanentFailure(`GitHub refused ${what} (${status}): ${(err as Error).message}`);
}

const GOOD_CONCLUSIONS = new Set(['success', 'neutral', 'skipped']);

type Headers = Record<string, string | number | undefined>;

/** Each call's route, status and time, and the rate limit GitHub reports on every answer. */
function measure(metrics: CoreMetrics | undefined, method: string, route: string, started: number, status: number, headers: Headers | undefined): void {
  if (!metrics) return;
  metrics.githubCall({ method, route, status, seconds: (performance.now() - started) / 1000 });
  const remaining = Number(headers?.['x-ratelimit-remaining']);
  const limit = Number(headers?.['x-ratelimit-limit']);
  if (headers?.['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) metrics.githubRateLimit(String(headers['x-ratelimit-resource'] ?? 'core'), remaining, Number.isFinite(limit) ? limit : 0);
}

/**
 * A request's route as a template, for metric labels: Octokit passes the template it was called
 * with ("/repos/{owner}/{repo}/commits/{ref}"), but pagination follows GitHub's `Link` header to
 * full URLs ("…/repositories/123/commits/<sha>/check-runs?page=2"), which would make one time
 * series per commit. Those lose their origin and query; owner/repo, numeric ids and commit SHAs
 * in them become placeholders.
 */
export function routeTemplate(url: string, apiUrl: string): string {
  if (!/^https?:\/\//i.test(url) && !url.includes('?')) return url;
  let path = url;
  try {
    const u = new URL(url, 'http://x');
    path = u.pathname;
    const base = new URL(apiUrl, 'http://x').pathname.replace(/\/$/, '');
    if (base && path.startsWith(`${base}/`)) path = path.slice(base.length);
  } catch {
    path = url.split('?')[0]!;
  }
  return path
    .replace(/^\/repos\/[^/]+\/[^/]+/, '/repos/{owner}/{repo}')
    .replace(/^\/repositories\/\d+/, '/repositories/{repository_id}')
    .replace(/\/\d+(?=\/|$)/g, '/{id}')
    .replace(/\/[0-9a-f]{40}(?=\/|$)/gi, '/{sha}');
}

export function createGitHub(opts: { token: string; apiUrl: string; logger: Logger; retryAfterBaseMs?: number; metrics?: CoreMetrics }): GitHubGateway {
  const ThrottledOctokit = Octokit.plugin(throttling);
  const octokit = new ThrottledOctokit({
    auth: opts.token,
    baseUrl: opts.apiUrl,
    userAgent: 'AutoDevHub',
    log: { debug: () => undefined, info: () => undefined, warn: (m: string) => opts.logger.warn(m), error: (m: string) => opts.logger.error(m) },
    throttle: {
      ...(opts.retryAfterBaseMs !== undefined && { retryAfterBaseValue: opts.retryAfterBaseMs }),
      onRateLimit: (retryAfter, options, _o, retryCount) => {
        opts.logger.warn({ retryAfter, url: options.url, retryCount }, 'GitHub rate limit: waiting');
        return retryCount < 3;
      },
      onSecondaryRateLimit: (retryAfter, options, _o, retryCount) => {
        opts.logger.warn({ retryAfter, url: options.url, retryCount }, 'GitHub secondary rate limit: waiting');
        return retryCount < 3;
      },
    },
  });

  octokit.hook.wrap('request', async (request, options) => {
    const started = performance.now();
    const route = routeTemplate(String(options.url), opts.apiUrl);
    try {
      const res = await request(options);
      measure(opts.metrics, options.method, route, started, res.status, res.headers as Headers);
      return res;
    } catch (err) {
      const e = err as { status?: number; response?: { headers?: Headers } };
      measure(opts.metrics, options.method, route, started, e.status ?? 0, e.response?.headers);
      throw err;
    }
  });

  return {
    async probe(signal) {
      const res = await octokit.rest.rateLimit.get({ request: { signal } });
      return { remaining: res.data.rate.remaining, limit: res.data.rate.limit };
    },

    async defaultBranch(full) {
      try {
        return (await octokit.rest.repos.get(parseRepo(full))).data.default_branch;
      } catch (err) {
        if (statusOf(err) === 404) throw new PermanentFailure(`GitHub knows no repository ${full}, or GITHUB_TOKEN cannot see it.`);
        throw classify(err, `reading ${full}`);
      }
    },

    async parentOf(full, sha) {
      try {
        return (await octokit.rest.repos.getCommit({ ...parseRepo(full), ref: sha })).data.parents[0]?.sha;
      } catch (err) {
        throw classify(err, `reading commit ${sha.slice(0, 7)}`);
      }
    },

    async compare(full, base, head) {
      try {
        const res = await octokit.rest.repos.compareCommitsWithBasehead({ ...parseRepo(full), basehead: `${base}...${head}`, per_page: 100 });
        return {
          files: (res.data.files ?? []).map((f) => ({ filename: f.filename, status: f.status, additions: f.additions, deletions: f.deletions, patch: f.patch })),
          commits: res.data.commits.map((c) => ({ sha: c.sha, message: c.commit.message, author: c.commit.author?.name ?? c.author?.login ?? 'unknown' })),
          totalCommits: res.data.total_commits ?? res.data.commits.length,
          url: res.data.html_url ?? null,
        };
      } catch (err) {
        if (statusOf(err) === 404) throw new PermanentFailure(`GitHub cannot compare ${base}...${head} in ${full}: one of them does not exist.`);
        throw classify(err, `comparing ${base}...${head}`);
      }
    },

    async ensureBranch(full, branch, sha) {
      const r = parseRepo(full);
      try {
        await octokit.rest.git.createRef({ ...r, ref: `refs/heads/${branch}`, sha });
      } catch (err) {
        if (statusOf(err) !== 422) throw classify(err, `creating branch ${branch}`);
        try {
          await octokit.rest.git.updateRef({ ...r, ref: `heads/${branch}`, sha, force: true });
        } catch (err2) {
          throw classify(err2, `moving branch ${branch}`);
        }
      }
    },

    async readFile(full, path, ref) {
      try {
        const res = await octokit.rest.repos.getContent({ ...parseRepo(full), path, ref });
        if (Array.isArray(res.data) || res.data.type !== 'file') throw new PermanentFailure(`${path} in ${full} is not a file.`);
        return { content: Buffer.from(res.data.content, 'base64').toString('utf8'), sha: res.data.sha };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        if (err instanceof PermanentFailure) throw err;
        throw classify(err, `reading ${path}`);
      }
    },

    async writeFile(full, input) {
      try {
        const res = await octokit.rest.repos.createOrUpdateFileContents({
          ...parseRepo(full),
          path: input.path,
          branch: input.branch,
          message: input.message,
          content: Buffer.from(input.content, 'utf8').toString('base64'),
          ...(input.sha && { sha: input.sha }),
        });
        return res.data.commit.sha ?? '';
      } catch (err) {
        throw classify(err, `writing ${input.path} on ${input.branch}`);
      }
    },

    async upsertPullRequest(full, input) {
      const r = parseRepo(full);
      try {
        const open = await octokit.rest.pulls.list({ ...r, state: 'open', head: `${r.owner}:${input.branch}`, per_page: 1 });
        const existing = open.data[0];
        if (existing) {
          await octokit.rest.pulls.update({ ...r, pull_number: existing.number, title: input.title, body: input.body });
          return { url: existing.html_url, number: existing.number, created: false };
        }
        const created = await octokit.rest.pulls.create({ ...r, head: input.branch, base: input.base, title: input.title, body: input.body });
        return { url: created.data.html_url, number: created.data.number, created: true };
      } catch (err) {
        throw classify(err, `opening the pull request from ${input.branch}`);
      }
    },

    async resolveRef(full, ref) {
      const r = parseRepo(full);
      let wanted = ref;
      try {
        if (!wanted) wanted = (await octokit.rest.repos.get(r)).data.default_branch;
        const commit = await octokit.rest.repos.getCommit({ ...r, ref: wanted });
        return { sha: commit.data.sha, ref: wanted, url: commit.data.html_url ?? null };
      } catch (err) {
        const status = statusOf(err);
        if (status === 404 || status === 422) {
          throw new PermanentFailure(
            wanted && ref ? `GitHub knows no ref "${ref}" in ${full}. Name a branch, tag or commit SHA.` : `GitHub knows no repository ${full}, or GITHUB_TOKEN cannot see it.`,
          );
        }
        throw classify(err, `resolving ${ref ?? 'the default branch'} of ${full}`);
      }
    },

    async gate(full, sha, requiredChecks) {
      const r = parseRepo(full);
      let combined;
      let runs;
      try {
        [combined, runs] = await Promise.all([
          octokit.rest.repos.getCombinedStatusForRef({ ...r, ref: sha }),
          octokit.paginate(octokit.rest.checks.listForRef, { ...r, ref: sha, per_page: 100 }),
        ]);
      } catch (err) {
        throw classify(err, `reading the checks of ${sha.slice(0, 7)}`);
      }
      const passing: CheckItem[] = [];
      const pending: CheckItem[] = [];
      const failing: CheckItem[] = [];
      const seen = new Set<string>();
      for (const s of combined.data.statuses) {
        seen.add(s.context);
        const item = { name: s.context, url: s.target_url ?? null };
        if (s.state === 'success') passing.push(item);
        else if (s.state === 'pending') pending.push(item);
        else failing.push(item);
      }
      for (const c of runs) {
        seen.add(c.name);
        const item = { name: c.name, url: c.html_url ?? null };
        if (c.status !== 'completed') pending.push(item);
        else if (GOOD_CONCLUSIONS.has(c.conclusion ?? '')) passing.push(item);
        else failing.push(item);
      }
      const missing = requiredChecks.filter((name) => !seen.has(name));
      const state = failing.length ? 'failure' : pending.length || missing.length ? 'pending' : 'success';
      return { state, passing, pending, failing, missing };
    },

    async findDeployment(full, sha, environment, runRef) {
      const r = parseRepo(full);
      try {
        const list = await octokit.rest.repos.listDeployments({ ...r, sha, environment, per_page: 100 });
        const mine = list.data.find((d) => (d.payload as Record<string, unknown> | string | null) && typeof d.payload === 'object' && (d.payload as Record<string, unknown>).autodevhub_run === runRef);
        return mine ? { id: mine.id } : undefined;
      } catch (err) {
        throw classify(err, `listing deployments of ${full}`);
      }
    },

    async createDeployment(full, sha, environment, runRef, description) {
      const r = parseRepo(full);
      try {
        const res = await octokit.rest.repos.createDeployment({
          ...r,
          ref: sha,
          environment,
          description,
          auto_merge: false,
          // The quality gate already ran; GitHub must not block on its own idea of required contexts.
          required_contexts: [],
          payload: { autodevhub_run: runRef },
          production_environment: environment === 'production',
        });
        if (!('id' in res.data)) throw new PermanentFailure(`GitHub did not create the deployment: ${JSON.stringify(res.data).slice(0, 200)}`);
        return { id: res.data.id };
      } catch (err) {
        if (err instanceof PermanentFailure) throw err;
        throw classify(err, `creating a deployment of ${sha.slice(0, 7)} to ${environment}`);
      }
    },

    async createIssue(full, input) {
      try {
        const res = await octokit.rest.issues.create({ ...parseRepo(full), title: input.title, body: input.body, labels: input.labels });
        return { number: res.data.number, url: res.data.html_url };
      } catch (err) {
        if (statusOf(err) === 410) throw new PermanentFailure(`Issues are turned off in ${full}.`);
        throw classify(err, `creating an issue in ${full}`);
      }
    },

    async findIssueByLabel(full, label) {
      try {
        const list = await octokit.rest.issues.listForRepo({ ...parseRepo(full), labels: label, state: 'all', sort: 'created', direction: 'asc', per_page: 10 });
        const found = list.data.find((i) => !i.pull_request && i.labels.some((l) => (typeof l === 'string' ? l : l.name) === label));
        return found ? { number: found.number, url: found.html_url } : undefined;
      } catch (err) {
        throw classify(err, `listing issues of ${full}`);
      }
    },

    async latestDeploymentStatus(full, id) {
      const r = parseRepo(full);
      try {
        const list = await octokit.rest.repos.listDeploymentStatuses({ ...r, deployment_id: id, per_page: 1 });
        const s = list.data[0];
        return s ? { state: s.state, environmentUrl: s.environment_url || null, logUrl: s.log_url || s.target_url || null } : undefined;
      } catch (err) {
        throw classify(err, `reading the status of deployment ${id}`);
      }
    },
  };
}
