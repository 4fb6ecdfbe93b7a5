import { verify } from '@octokit/webhooks-methods';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CoreContext } from '../../core/context.js';
import type { PlatformAdapter } from '../../core/chat/adapter.js';
import { requestDocsFromPush, type PushEvent } from '../../core/docs/service.js';


/** The fields of GitHub's push event the docs workflow reads, with the types GitHub documents. */
const sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'must be a commit SHA');
const commit = z.looseObject({ id: z.string().max(100), message: z.string().max(100_000) });
const pushEvent = z.looseObject({
  ref: z.string().min(1).max(1000),
  before: sha,
  after: sha,
  deleted: z.boolean().optional(),
  repository: z.looseObject({ full_name: z.string().regex(/^[\w.-]{1,100}\/[\w.-]{1,100}$/, 'must be owner/repo'), default_branch: z.string().max(255).optional(), master_branch: z.string().max(255).optional() }),
  pusher: z.looseObject({ name: z.string().max(255).optional() }).optional(),
  sender: z.looseObject({ login: z.string().max(255).optional() }).optional(),
  commits: z.array(commit).max(10_000).optional(),
  head_commit: commit.nullable().optional(),
});

export interface WebhookRequest {
  rawBody: string;
  event: string | undefined;
  deliveryId: string | undefined;
  signature: string | undefined;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

/**
 * GitHub's webhooks: X-Hub-Signature-256 checked on the raw body (constant time, by Octokit's
 * webhooks-methods), then `ping` answered and `push` turned into a docs run. Anything else is
 * acknowledged and ignored, so GitHub does not mark the hook as failing.
 */
export function createGitHubWebhooks(opts: { secret: string; logger: Logger; context: () => CoreContext }): PlatformAdapter {
  return {
    platform: 'github',
    route: '/github/webhooks',
    // GitHub caps webhook payloads at 25 MB; two of them may be read at once.
    maxBodyBytes: 25 * 1024 * 1024,
    maxBytesInFlight: 50 * 1024 * 1024,
    preflight(headers) {
      if (!/^sha256=[0-9a-f]{64}$/i.test(headers['x-hub-signature-256'] ?? '')) {
        return { status: 401, body: { error: 'invalid_signature', message: 'X-Hub-Signature-256 is missing or malformed' } };
      }
      if (!headers['x-github-event'] || !headers['x-github-delivery']) {
        return { status: 400, body: { error: 'invalid_request', message: 'X-GitHub-Event and X-GitHub-Delivery are required' } };
      }
      return undefined;
    },
    handle: async (inbound) => {
      const res = await handleWebhook({
        rawBody: inbound.rawBody,
        event: inbound.headers['x-github-event'],
        deliveryId: inbound.headers['x-github-delivery'],
        signature: inbound.headers['x-hub-signature-256'],
      });
      return { status: res.status, body: res.body };
    },
  };

  async function handleWebhook(req: WebhookRequest): Promise<WebhookResponse> {
      const receivedAt = Date.now();
      if (!req.signature || !(await verify(opts.secret, req.rawBody, req.signature).catch(() => false))) {
        return { status: 401, body: { error: 'invalid_signature', message: 'X-Hub-Signature-256 does not match GITHUB_WEBHOOK_SECRET' } };
      }
      if (!req.event || !req.deliveryId) return { status: 400, body: { error: 'invalid_request', message: 'X-GitHub-Event and X-GitHub-Delivery are required' } };
      let payload: Record<string, unknown>;
      try {
        payload = JSON.parse(req.rawBody) as Record<string, unknown>;
        if (!payload || typeof payload !== 'object') throw new Error('not an object');
      } catch {
        return { status: 400, body: { error: 'invalid_body', message: 'the body is not a JSON object (set the hook content type to application/json)' } };
      }
      if (req.event === 'ping') return { status: 200, body: { ok: true, zen: payload.zen ?? null, hook_id: payload.hook_id ?? null } };
      if (req.event !== 'push') return { status: 202, body: { ignored: true, reason: `event "${req.event}" is not handled` } };
      const parsed = pushEvent.safeParse(payload);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { status: 400, body: { error: 'invalid_body', message: `not a push event payload${issue ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : ''}` } };
      }
      const push: PushEvent = parsed.data;
      const result = await requestDocsFromPush({ ctx: opts.context() }, { push, deliveryId: req.deliveryId, receivedAt });
      if (result.outcome === 'ignored') {
        opts.logger.info({ delivery: req.deliveryId, reason: result.reason }, 'push ignored');
        return { status: 202, body: { ignored: true, reason: result.reason } };
      }
      return { status: 202, body: { queued: result.run.ref, duplicate: result.outcome === 'duplicate' } };
  }
}
