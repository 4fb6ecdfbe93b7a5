import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { Logger } from 'pino';
import { verifySlackSignature } from './webhook/verify.js';
import { parseSlackBody, SlackBodyError } from './webhook/parse.js';

/** Slack gives up on a response after 3 s; answer a little before that if no listener acked. */
const ACK_DEADLINE_MS = 2800;

/** A slash command always gets words back, even when AutoDevHub could not finish in time. */
const SLOW_REPLY = {
  response_type: 'ephemeral',
  text: ':hourglass: AutoDevHub is slower than usual and could not confirm your command in time. If it was saved, it shows up here shortly; check with `/autodevhub status` before trying again.',
};
const FAILED_REPLY = { response_type: 'ephemeral', text: ':x: AutoDevHub could not handle that command. Nothing was queued; please try again.' };

export interface SlackHttpRequest {
  rawBody: string;
  contentType: string | undefined;
  signature: string | undefined;
  timestamp: string | undefined;
  retryNum: string | undefined;
  retryReason: string | undefined;
}

export interface SlackHttpResponse {
  status: number;
  body: string;
  contentType: string;
}

/**
 * A Bolt Receiver whose HTTP side is our Hono route: transport only. It verifies, parses, hands
 * the event to Bolt, and the response goes out when a listener calls ack(), not when the
 * listener finishes.
 */
/**
 * Slash commands skip Bolt's middleware chain: every listener's matchers would run for an event
 * only one handler takes. Events and button clicks go through Bolt.
 */
export type SlashCommandHandler = (command: { command: string; text: string; user_id: string; channel_id: string }, body: Record<string, unknown>, ack: (response?: unknown) => Promise<void>) => Promise<void>;

export class HonoSlackReceiver implements Receiver {
  private app: App | undefined;

  constructor(
    private readonly signingSecret: string,
    private readonly logger: Logger,
    private readonly onSlashCommand?: SlashCommandHandler,
  ) {}

  init(app: App): void {
    this.app = app;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async handle(req: SlackHttpRequest): Promise<SlackHttpResponse> {
    const verified = verifySlackSignature(this.signingSecret, { signature: req.signature, timestamp: req.timestamp }, req.rawBody);
    if (!verified.ok) {
      this.logger.warn({ reason: verified.reason }, 'refused a Slack request');
      return json(401, { error: 'invalid_signature', message: verified.reason });
    }
    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(req.rawBody, req.contentType);
    } catch (err) {
      if (err instanceof SlackBodyError) return json(400, { error: 'invalid_body', message: err.message });
      throw err;
    }
    if (body.type === 'url_verification') return json(200, { challenge: String(body.challenge ?? '') });
    if (!this.app) return json(503, { error: 'not_ready' });

    let acked = false;
    let resolveAck!: (r: SlackHttpResponse) => void;
    const acknowledged = new Promise<SlackHttpResponse>((resolve) => (resolveAck = resolve));
    const event: ReceiverEvent = {
      body,
      ...(req.retryNum && { retryNum: Number(req.retryNum) }),
      ...(req.retryReason && { retryReason: req.retryReason }),
      ack: async (response?: unknown) => {
        if (acked) return;
        acked = true;
        resolveAck(toResponse(response));
      },
    };
    const timer = setTimeout(() => {
      if (!acked) {
        acked = true;
        this.logger.warn({ type: body.type ?? 'command' }, 'no listener acknowledged a Slack request in time');
        resolveAck(body.command ? json(200, SLOW_REPLY) : { status: 200, body: '', contentType: 'text/plain' });
      }
    }, ACK_DEADLINE_MS);
    const handled = body.command && this.onSlashCommand ? this.onSlashCommand(body as never, body, event.ack) : this.app.processEvent(event);
    handled
      .catch((err: unknown) => {
        this.logger.error({ err }, 'Slack listener failed');
        if (!acked) {
          acked = true;
          // Slack shows nothing for a 500: a person gets words instead.
          resolveAck(body.command ? json(200, FAILED_REPLY) : json(500, { error: 'internal_error' }));
        }
      })
      .finally(() => {
        // Requests no listener handles (an event we do not subscribe to) still get their 200.
        if (!acked) {
          acked = true;
          resolveAck({ status: 200, body: '', contentType: 'text/plain' });
        }
      });
    const response = await acknowledged;
    clearTimeout(timer);
    return response;
  }
}

function json(status: number, body: unknown): SlackHttpResponse {
  return { status, body: JSON.stringify(body), contentType: 'application/json' };
}

function toResponse(response: unknown): SlackHttpResponse {
  if (response === undefined || response === null || response === '') return { status: 200, body: '', contentType: 'text/plain' };
  if (typeof response === 'string') return { status: 200, body: response, contentType: 'text/plain' };
  return json(200, response);
}
