import type { LinearClient } from '@linear/sdk';
import { PermanentFailure } from '../errors.js';
import { markdownBody } from './issue-body.js';
import type { LinearApi } from './trackers.js';

function classify(err: unknown, what: string): Error {
  const e = err as { status?: number; type?: string; message?: string };
  if (e?.status === 401 || e?.status === 403 || e?.type === 'AuthenticationError' || e?.type === 'Forbidden') {
    return new PermanentFailure(`Linear refused ${what}: check LINEAR_API_KEY and the team.`);
  }
  if (e?.type === 'InvalidInput' || e?.type === 'GraphqlError') return new PermanentFailure(`Linear refused ${what}: ${e.message ?? ''}`.slice(0, 300));
  return new Error(`Linear did not answer while ${what}: ${e?.message ?? String(err)}`);
}

/** Linear's GraphQL API through @linear/sdk, whose `apiUrl` points it elsewhere (tests, proxies). */
export function createLinear(opts: { apiKey: string; apiUrl: string }): LinearApi {
  // Loaded on first use: the SDK is large and most installations do not use Linear.
  let loaded: Promise<LinearClient> | undefined;
  const linear = () => (loaded ??= import('@linear/sdk').then(({ LinearClient }) => new LinearClient({ apiKey: opts.apiKey, apiUrl: opts.apiUrl })));
  return {
    async create(teamId, input, labelIds, key) {
      try {
        const client = await linear();
        const payload = await client.createIssue({ id: key, teamId, title: input.title.slice(0, 250), description: markdownBody(input), ...(labelIds.length && { labelIds }) });
        if (!payload.success || !payload.issueId) throw new PermanentFailure('Linear did not create the issue.');
        const issue = await client.issue(payload.issueId);
        return { id: issue.identifier, url: issue.url };
      } catch (err) {
        if (err instanceof PermanentFailure) throw err;
        throw classify(err, 'creating an issue');
      }
    },
    async findByKey(_teamId, key) {
      try {
        // The id is ours (a UUID made from the story): found exactly, never by a text search.
        const issue = await (await linear()).issue(key);
        return { id: issue.identifier, url: issue.url };
      } catch (err) {
        const e = err as { type?: string; message?: string };
        if (/entity not found/i.test(e?.message ?? '')) return undefined;
        throw classify(err, 'looking up an issue');
      }
    },
  };
}
