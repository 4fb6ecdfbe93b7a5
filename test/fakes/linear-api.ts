import { startFakeServer, sendJson } from './http.js';

export interface FakeLinearIssue {
  id: string;
  identifier: string;
  teamId: string;
  title: string;
  description: string;
  url: string;
}

/**
 * Linear's GraphQL API (POST /graphql) for the operations @linear/sdk sends when exporting: the
 * `createIssue` mutation, the `issue` query (the SDK fetches the created issue by id) and the
 * `issues` query with a description filter. API keys go in the Authorization header as they are,
 * and errors come back as GraphQL errors with Linear's extension codes.
 */
export async function startFakeLinear(opts: { apiKey: string; teams: string[] }) {
  const issues: FakeLinearIssue[] = [];
  let lastSyncId = 100;
  const hooks: { delayMs?: number; failCreateOnce?: boolean } = {};
  const gqlError = (res: Parameters<typeof sendJson>[0], status: number, type: string, message: string) =>
    sendJson(res, status, { errors: [{ message, extensions: { type, code: type.toUpperCase().replace(/ /g, '_'), userPresentableMessage: message } }] });
  const fake = await startFakeServer(async (req, res) => {
    if (req.method !== 'POST' || !req.path.startsWith('/graphql')) return sendJson(res, 404, { message: 'Not found' });
    if (req.headers.authorization !== opts.apiKey) return gqlError(res, 400, 'authentication error', 'Authentication required, not authenticated');
    const { query, variables } = JSON.parse(req.body) as { query: string; variables: Record<string, any> };
    const op = /^\s*(query|mutation)\s+(\w+)/.exec(query)?.[2];
    const shape = (i: FakeLinearIssue) => ({
      __typename: 'Issue', id: i.id, identifier: i.identifier, title: i.title, description: i.description, url: i.url, number: Number(i.identifier.split('-')[1]),
      priority: 0, priorityLabel: 'No priority', estimate: null, sortOrder: 0, boardOrder: 0, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
      labelIds: [], previousIdentifiers: [], reactionData: [], reactions: [], customerTicketCount: 0, branchName: '', team: { id: i.teamId }, state: { id: 'state-1' },
      // Non-null in Linear's schema, so present in every answer.
      sharedAccess: { isShared: false, sharedWithCount: 0, viewerHasOnlySharedAccess: false, disallowedIssueFields: [], sharedWithUsers: [] },
    });
    if (op === 'createIssue') {
      const input = variables.input as { id?: string; teamId: string; title: string; description?: string };
      if (!opts.teams.includes(input.teamId)) return gqlError(res, 200, 'invalid input', 'Argument Validation Error: teamId must be a UUID of a team you can access');
      if (hooks.delayMs) await new Promise((r) => setTimeout(r, hooks.delayMs));
      const n = issues.length + 1;
      // Linear takes a client-chosen UUID as the issue's id, and refuses one that exists.
      if (input.id && issues.some((i) => i.id === input.id)) return gqlError(res, 200, 'invalid input', 'Argument Validation Error: id already exists');
      const issue: FakeLinearIssue = { id: input.id ?? `issue-${n}-uuid`, identifier: `ENG-${n}`, teamId: input.teamId, title: input.title, description: input.description ?? '', url: `https://linear.app/acme/issue/ENG-${n}` };
      issues.push(issue);
      if (hooks.failCreateOnce) {
        // Made on Linear's side, but the answer is lost on the way back.
        hooks.failCreateOnce = false;
        return sendJson(res, 502, { message: 'Bad gateway' });
      }
      return sendJson(res, 200, { data: { issueCreate: { __typename: 'IssuePayload', lastSyncId: lastSyncId++, issue: { id: issue.id }, success: true } } });
    }
    if (op === 'issue') {
      const issue = issues.find((i) => i.id === variables.id || i.identifier === variables.id);
      if (!issue) return gqlError(res, 200, 'invalid input', 'Entity not found: Issue');
      return sendJson(res, 200, { data: { issue: shape(issue) } });
    }
    if (op === 'issues') {
      const contains = variables.filter?.description?.contains as string | undefined;
      const team = variables.filter?.team?.id?.eq as string | undefined;
      const found = issues.filter((i) => (!contains || i.description.includes(contains)) && (!team || i.teamId === team));
      return sendJson(res, 200, { data: { issues: { nodes: found.map(shape), pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } } } });
    }
    return gqlError(res, 400, 'graphql error', `Unknown operation ${op ?? '(none)'}`);
  });
  return { ...fake, apiUrl: `${fake.url}/graphql`, issues, hooks };
}
