/**
 * Slack sends three body shapes to the one Request URL: slash commands as form fields,
 * interactivity as a form field `payload` holding JSON, and Events API callbacks as JSON.
 */
export type SlackBody = Record<string, unknown>;

export class SlackBodyError extends Error {
  override name = 'SlackBodyError';
}

export function parseSlackBody(rawBody: string, contentType: string | undefined): SlackBody {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawBody);
    } catch {
      throw new SlackBodyError('body is not valid JSON');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SlackBodyError('body is not a JSON object');
    return parsed as SlackBody;
  }
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(rawBody);
    const payload = form.get('payload');
    if (payload !== null) {
      try {
        const parsed = JSON.parse(payload) as unknown;
        if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
        return parsed as SlackBody;
      } catch {
        throw new SlackBodyError('form field "payload" is not a JSON object');
      }
    }
    const body: SlackBody = Object.fromEntries(form.entries());
    if (!body.command && !body.type) throw new SlackBodyError('form body is neither a slash command nor a payload');
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
