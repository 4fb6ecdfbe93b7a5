import { fixture, interactionBody, postToSlack } from './slack.js';

let clicks = 0;

/**
 * Clicks a button as Slack sends it: a signed block_actions payload whose user is the clicker and
 * whose value names what the button acts on (never who). `message` is the message the button is on.
 */
export async function slackClick(baseUrl: string, opts: { action: string; value: string; user: string; channel: string; message?: { ts?: string; thread_ts?: string } }): Promise<number> {
  const payload = fixture<Record<string, any>>('block-actions.json');
  payload.trigger_id = `click-${++clicks}-${Date.now()}-${Math.random()}`;
  payload.user = { ...payload.user, id: opts.user };
  payload.channel = { id: opts.channel, name: 'x' };
  payload.container = { ...payload.container, channel_id: opts.channel, ...(opts.message?.ts && { message_ts: opts.message.ts }) };
  payload.message = { ...payload.message, ...(opts.message ?? {}) };
  if (!opts.message?.thread_ts) delete payload.message.thread_ts;
  payload.actions = [{ action_id: opts.action, block_id: 'x', type: 'button', value: opts.value, text: { type: 'plain_text', text: 'x' }, action_ts: '1712345690.1' }];
  return (await postToSlack(baseUrl, interactionBody(payload))).status;
}
