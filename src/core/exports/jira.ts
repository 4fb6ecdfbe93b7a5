import type { Version3Client } from 'jira.js';
import { PermanentFailure } from '../errors.js';
import { adfBody } from './issue-body.js';
import type { JiraApi } from './trackers.js';

function statusOf(err: unknown): number | undefined {
  const e = err as { status?: number; response?: { status?: number } };
  return e?.status ?? e?.response?.status;
}

function classify(err: unknown, what: string): Error {
  const status = statusOf(err);
  if (status === 401 || status === 403) return new PermanentFailure(`Jira refused ${what} (${status}): check JIRA_EMAIL and JIRA_API_TOKEN, and the project's permissions.`);
  if (status === 400 || status === 404) return new PermanentFailure(`Jira refused ${what} (${status}): ${JSON.stringify((err as { response?: { data?: unknown } }).response?.data ?? (err as Error).message).slice(0, 300)}`);
  return new Error(`Jira did not answer while ${what} (${status ?? (err as Error).message})`);
}

/** Jira Cloud REST v3 with an API token (basic auth: email + token), through jira.js. */
export function createJira(opts: { baseUrl: string; email: string; apiToken: string }): JiraApi {
  // Loaded on first use: jira.js (with axios) costs about a second at start.
  let loaded: Promise<Version3Client> | undefined;
  const jira = () => (loaded ??= import('jira.js').then(({ Version3Client }) => new Version3Client({ host: opts.baseUrl, authentication: { basic: { email: opts.email, apiToken: opts.apiToken } } })));
  const browse = (key: string) => `${opts.baseUrl}/browse/${key}`;
  return {
    async create(project, issueType, input, labels) {
      try {
        const made = await (await jira()).issues.createIssue({
          fields: { project: { key: project }, issuetype: { name: issueType }, summary: input.title.slice(0, 250), description: adfBody(input) as never, labels },
        });
        return { id: made.key, url: browse(made.key) };
      } catch (err) {
        throw classify(err, `creating an issue in ${project}`);
      }
    },
    async findByLabel(project, label) {
      try {
        const found = await (await jira()).issueSearch.searchForIssuesUsingJqlEnhancedSearch({ jql: `project = "${project}" AND labels = "${label}"`, fields: ['summary'], maxResults: 1 });
        const key = found.issues?.[0]?.key;
        return key ? { id: key, url: browse(key) } : undefined;
      } catch (err) {
        throw classify(err, `searching ${project}`);
      }
    },
  };
}
