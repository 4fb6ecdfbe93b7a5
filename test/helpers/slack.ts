import { readFileSync } from 'node:fs';
import { signSlackRequest } from '../../src/bots/slack/webhook/verify.js';

export const SLACK_SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
export const SLACK_BOT_TOKEN = 'xoxb-test-0000-autodevhub';

export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/slack/${name}`, import.meta.url), 'utf8')) as T;
}

export function slashCommandBody(overrides: Record<string, string> = {}): string {
  return new URLSearchParams({ ...fixture<Record<string, string>>('slash-command.json'), ...overrides }).toString();
}

export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Posts to /slack/events as Slack does: signed over the raw body with the current time. */
export async function postToSlack(
  baseUrl: string,
  body: string,
  opts: { contentType?: string; secret?: string; timestamp?: number; headers?: Record<string, string> } = {},
): Promise<Response> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return fetch(`${baseUrl}/slack/events`, {
    method: 'POST',
    headers: {
      'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(opts.secret ?? SLACK_SIGNING_SECRET, timestamp, body),
      ...opts.headers,
    },
    body,
  });
}
