import { startFakeServer, sendJson } from './http.js';

export interface FakeJiraIssue {
  id: string;
  key: string;
  project: string;
  issueType: string;
  summary: string;
  description: Record<string, unknown>;
  labels: string[];
}

/**
 * Jira Cloud REST API v3, the parts issue export uses: POST /rest/api/3/issue (Atlassian Document
 * Format descriptions only, as Cloud requires) and GET /rest/api/3/search/jql (labels = "…").
 * Basic authentication with an email and an API token, as Atlassian documents for API tokens.
 */
export async function startFakeJira(opts: { email: string; token: string; projects: string[] }) {
  const issues: FakeJiraIssue[] = [];
  const hooks: { delayMs?: number } = {};
  const expected = `Basic ${Buffer.from(`${opts.email}:${opts.token}`).toString('base64')}`;
  const fake = await startFakeServer(async (req, res) => {
    if (req.headers.authorization !== expected) return sendJson(res, 401, { errorMessages: ['You are not authenticated. Authentication required to perform this operation.'], errors: {} });
    const url = new URL(req.path, 'http://x');
    if (req.method === 'POST' && url.pathname === '/rest/api/3/issue') {
      const { fields } = JSON.parse(req.body) as { fields: { project?: { key?: string }; issuetype?: { name?: string }; summary?: string; description?: Record<string, unknown>; labels?: string[] } };
      const errors: Record<string, string> = {};
      if (!fields.project?.key || !opts.projects.includes(fields.project.key)) errors.project = 'valid project is required';
      if (!fields.summary) errors.summary = 'You must specify a summary of the issue.';
      if (!fields.issuetype?.name) errors.issuetype = 'Specify an issue type';
      if (fields.description && (fields.description.type !== 'doc' || fields.description.version !== 1)) errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
      if ((fields.labels ?? []).some((l) => /\s/.test(l))) errors.labels = 'Labels cannot contain spaces';
      if (Object.keys(errors).length) return sendJson(res, 400, { errorMessages: [], errors });
      if (hooks.delayMs) await new Promise((r) => setTimeout(r, hooks.delayMs));
      const n = issues.filter((i) => i.project === fields.project!.key).length + 1;
      const issue: FakeJiraIssue = { id: String(10000 + issues.length), key: `${fields.project!.key}-${n}`, project: fields.project!.key!, issueType: fields.issuetype!.name!, summary: fields.summary!, description: fields.description ?? {}, labels: fields.labels ?? [] };
      issues.push(issue);
      return sendJson(res, 201, { id: issue.id, key: issue.key, self: `${fake.url}/rest/api/3/issue/${issue.id}` });
    }
    if (req.method === 'GET' && url.pathname === '/rest/api/3/search/jql') {
      const jql = url.searchParams.get('jql') ?? '';
      const project = /project = "([^"]+)"/.exec(jql)?.[1];
      const label = /labels = "([^"]+)"/.exec(jql)?.[1];
      const found = issues.filter((i) => (!project || i.project === project) && (!label || i.labels.includes(label)));
      return sendJson(res, 200, { issues: found.map((i) => ({ id: i.id, key: i.key, fields: { summary: i.summary } })), isLast: true });
    }
    return sendJson(res, 404, { errorMessages: ['Not found'], errors: {} });
  });
  return { ...fake, issues, hooks };
}
