import type { ApprovalState, DeployRun, RunSummary } from '../runs/model.js';
import type { StoryRecord } from '../stories/store.js';
import type { CardAction, storyExportView } from './presentation.js';

/**
 * What core needs from a chat platform to show a run. Each platform folder under src/bots/
 * implements it; core never imports a platform SDK. Thread and message references are one
 * string everywhere: `slack:C0123:1712345678.000100`.
 */
export interface RunView {
  run: RunSummary;
  story?: StoryRecord | undefined;
  /** The run's page in the web console. */
  webUrl: string;
  /** Chat references stored with the run (`workflow_runs.chat_refs`), e.g. an interaction token. */
  refs?: Record<string, string>;
  /** Buttons under a finished deploy (Promote, Roll back). */
  actions?: CardAction[];
  /** A story's exports: links, and the Create issue / Open PR buttons still to offer. */
  storyExports?: ReturnType<typeof storyExportView>;
  /**
   * The message of the run this one follows (an automatic rollback follows the failed deploy):
   * a run posted for the first time without `input.threadTs` replies in its thread.
   */
  followsMessageRef?: string;
}

export interface ChatAdapter {
  readonly platform: string;
  /** Posts the run's message (in reply to `run.input.threadTs` when set), or edits it in place when `run.threadRef` is set. Returns the message reference. */
  upsertRunMessage(view: RunView): Promise<string>;
  /** Posts the finished story in the thread of the run's message. Returns the message reference. */
  postStory(view: RunView & { story: StoryRecord }, runMessageRef: string): Promise<string>;
  /**
   * Deploy approvals: posts the approval request (who may decide, the decisions so far, and
   * Approve/Reject buttons while it is open) in the run's thread, or edits it in place when
   * `existingRef` is given. Optional: a platform without it shows approvals in the run message.
   */
  upsertApprovalMessage?(view: RunView & { run: DeployRun; approvals: ApprovalState }, runMessageRef: string, existingRef: string | undefined): Promise<string>;
  /** Posts a finished deploy's outcome in the run's thread, once. */
  postOutcome?(view: RunView, runMessageRef: string): Promise<string>;
  /** Announces a run in a channel (`slack:C0123`), e.g. a docs pull request; returns the message ref. */
  postNotice?(view: RunView, channel: string): Promise<string>;
}

/**
 * The platform will never take this render (the channel is gone, the bot was removed): the run's
 * chat view is given up on (said in the log), not retried by every sweep.
 */
export class ChatGoneError extends Error {
  override name = 'ChatGoneError';
}

export class NotImplementedError extends Error {
  override name = 'NotImplementedError';
}

/** An incoming platform request as the HTTP layer hands it over: the raw body, exactly as signed. */
export interface InboundRequest {
  rawBody: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

export interface InboundResponse {
  status: number;
  body: string | Record<string, unknown>;
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One platform's surface: where its requests arrive, how they are verified and turned into core
 * verbs (`handle`), and how runs are shown there (`chat`). The HTTP layer serves every platform
 * the same way; verification and parsing live in each platform's `webhook/` folder.
 */
export interface PlatformAdapter {
  readonly platform: string;
  /** The POST route, e.g. /slack/events. */
  readonly route: string;
  /** The largest body the platform sends; bigger ones get 413 unread. */
  readonly maxBodyBytes: number;
  /**
   * How many bytes of not-yet-verified bodies this route may hold in memory at once; past it,
   * requests get 503 with Retry-After unread. Default: four of the largest bodies.
   */
  readonly maxBytesInFlight?: number;
  /**
   * Checks the headers before the body is read (a missing signature is refused unread). Returns
   * the response to send, or undefined to go on.
   */
  preflight?(headers: Record<string, string | undefined>): InboundResponse | undefined;
  handle(req: InboundRequest): Promise<InboundResponse>;
  chat?: ChatAdapter;
  /** Readiness: the platform's API answers (a failure shows as degraded in /readyz, not down). */
  probe?(signal: AbortSignal): Promise<unknown>;
  close?(): void;
}

/** A platform switched off for want of configuration: its route answers 503 with this reason. */
export interface DisabledPlatform {
  readonly platform: string;
  readonly route: string;
  readonly disabled: string;
}

/**
 * The platform answered 429: nothing more may be sent to `scope` (a channel, or the workspace's
 * edits) for `retryAfterMs`. Adapters throw it instead of waiting; the chat job waits as asked.
 */
export class ChatRateLimitedError extends Error {
  override name = 'ChatRateLimitedError';
  constructor(
    readonly retryAfterMs: number,
    readonly scope: 'channel' | 'edits',
  ) {
    super(`rate limited (${scope}) for ${retryAfterMs} ms`);
  }
}
