import { z } from 'zod';

/**
 * Slack sends three body shapes to the one Request URL: slash commands as form fields,
 * interactivity as a form field `payload` holding JSON, and Events API callbacks as JSON. A body
 * that is signed but not one of these shapes is refused with a 400, before any listener sees it.
 */
export type SlackBody = Record<string, unknown>;

export class SlackBodyError extends Error {
  override name = 'SlackBodyError';
}

const id = z.string().min(1).max(255);
const slashCommand = z.looseObject({ command: z.string().startsWith('/'), text: z.string(), user_id: id, channel_id: id, trigger_id: id.optional() });
const blockActions = z.looseObject({
  type: z.literal('block_actions'),
  user: z.looseObject({ id }),
  actions: z.array(z.looseObject({ action_id: z.string(), type: z.string() })).min(1),
});
const otherInteraction = z.looseObject({ type: z.string().refine((t) => t !== 'block_actions'), user: z.looseObject({ id }).optional() });
const eventCallback = z.looseObject({ type: z.literal('event_callback'), event_id: id, event: z.looseObject({ type: z.string() }) });
const urlVerification = z.looseObject({ type: z.literal('url_verification'), challenge: z.string() });
const otherEvent = z.looseObject({ type: z.string().refine((t) => t !== 'event_callback' && t !== 'url_verification') });

function check(schema: z.ZodType, body: unknown, what: string): SlackBody {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SlackBodyError(`${what} is malformed${issue ? ` (${issue.path.join('.') || 'body'}: ${issue.message})` : ''}`);
  }
  return parsed.data as SlackBody;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SlackBodyError(`${what} is not valid JSON`);
  }
}

export function parseSlackBody(rawBody: string, contentType: string | undefined): SlackBody {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const body = parseJson(rawBody, 'body');
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SlackBodyError('body is not a JSON object');
    const kind = (body as { type?: unknown }).type;
    if (kind === 'event_callback') return check(eventCallback, body, 'event callback');
    if (kind === 'url_verification') return check(urlVerification, body, 'url_verification');
    return check(otherEvent, body, 'event');
  }
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(rawBody);
    const payload = form.get('payload');
    if (payload !== null) {
      const body = parseJson(payload, 'form field "payload"');
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SlackBodyError('form field "payload" is not a JSON object');
      return (body as { type?: unknown }).type === 'block_actions' ? check(blockActions, body, 'block_actions payload') : check(otherInteraction, body, 'interaction payload');
    }
    const body: SlackBody = Object.fromEntries(form.entries());
    if (body.command) return check(slashCommand, body, 'slash command');
    if (!body.type) throw new SlackBodyError('form body is neither a slash command nor a payload');
    return body;
  }
  throw new SlackBodyError(`unsupported content type "${type || 'none'}"`);
}

/** The id that makes a delivery unique, for de-duplication across retries and restarts. */
export function slackDeliveryId(body: SlackBody): string | undefined {
  if (typeof body.event_id === 'string') return `event:${body.event_id}`;
  if (typeof body.trigger_id === 'string') return `trigger:${body.trigger_id}`;
  return undefined;
}
