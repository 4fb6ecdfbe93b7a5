import { createHash, randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import { runCommand } from '../../../core/commands/run-command.js';
import { MAX_DESCRIPTION_LENGTH } from '../../../core/commands/grammar.js';
import { findProjectByKey } from '../../../core/projects/service.js';
import { AppError, ValidationError } from '../../../core/errors.js';
import { caller, type Api } from './app.js';
import { CommandResult, errors, json, jsonBody, ProjectKey } from './schemas.js';

const CODES: Record<number, string> = { 400: 'usage', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 422: 'idempotency_key_reused', 429: 'rate_limited', 503: 'unavailable' };

/** A command's error as the API answers it: the error shape, with the reply chat would show. */
class CommandError extends AppError {
  override readonly status: number;
  override readonly code: string;
  constructor(status: number, message: string, details: Record<string, unknown>) {
    super(message, details);
    this.status = status;
    this.code = CODES[status] ?? 'command_failed';
  }
}

const route = createRoute({
  method: 'post',
  path: '/api/v1/commands',
  tags: ['commands'],
  summary: 'Run a command, as typed in chat',
  description:
    'The same grammar and the same permission checks as chat (`story …`, `deploy …`, `status`, `help`). 202 with the run when one was queued, 200 for answers and for a repeated Idempotency-Key. ' +
    'An Idempotency-Key reused with another body is refused with 422.',
  request: {
    headers: z.object({ 'idempotency-key': z.string().regex(/^[\x21-\x7e]{1,200}$/, 'Idempotency-Key must be 1 to 200 visible ASCII characters.').optional() }),
    body: jsonBody(
      z.object({
        text: z.string({ error: 'give the command as {"text": "story …"}' }).max(MAX_DESCRIPTION_LENGTH + 200, `a story description may be ${MAX_DESCRIPTION_LENGTH} characters`).openapi({ example: 'story As a shopper I want to save my cart so that I can buy later' }),
        project: ProjectKey.nullish().openapi({ description: 'The project to run in, when the text does not name one' }),
      }),
    ),
  },
  responses: {
    200: json(CommandResult, 'An answer (help, status, a duplicate)'),
    202: json(CommandResult, 'A run was queued'),
    ...errors(400, 401, 403, 404, 409, 422, 429, 503),
  },
});

export function registerCommands(api: Api): void {
  api.openapi(route, async (c) => {
    const { text, project } = c.req.valid('json');
    const key = c.req.valid('header')['idempotency-key'];
    const { ctx, actor } = caller(c);
    if (project && !(await findProjectByKey(ctx.em, project))) throw new ValidationError(`There is no project "${project}".`);
    const reply = await runCommand(
      { ctx, actor },
      {
        text,
        // A key is the caller's own: the same key from someone else is another request. A key has
        // no spaces, so "<key> (from <caller>)" is unambiguous, and log lines still start with the key.
        deliveryId: key ? `${key} (from ${actor.id})` : randomUUID(),
        // The same key with another body is a mistake, not a retry: refused (422).
        ...(key && { requestHash: createHash('sha256').update(JSON.stringify([text, project ?? null])).digest('hex') }),
        prefix: '',
        ...(project && { projectKey: project }),
      },
    );
    if (reply.error) {
      const body = { text: reply.text.trim(), ...(reply.usage !== undefined && { usage: reply.usage }) };
      throw new CommandError(reply.status ?? 400, (reply.message || reply.text).trim(), { reply: body, ...(reply.retryAfterSeconds && { retryAfterSeconds: reply.retryAfterSeconds }) });
    }
    const result = { text: reply.text.trim(), error: false as const, duplicate: Boolean(reply.duplicate), queued: reply.run ? reply.queued !== false : null, run: reply.run ?? null };
    return reply.run && !reply.duplicate ? c.json(result, 202) : c.json(result, 200);
  });
}
