import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { AccessConfig, AppConfig, ProjectConfig } from './config.js';
import type { StoryProvider } from './ai/provider.js';
import type { StoryCache } from './stories/cache.js';
import type { RunIntake } from './runs/intake.js';
import type { GitHubGateway } from './github/client.js';
import type { DocsWriter } from './docs/writer.js';
import type { RunEventMessage } from './runs/model.js';
import type { CoreMetrics } from './metrics.js';
import type { ChangeSummariser } from './deploys/changes.js';
import type { IssueTrackers } from './exports/trackers.js';
import type { Mailer } from './notify/email.js';

/** What a core verb may touch; given by the surface or job that calls it. */
export interface CoreContext {
  /** A fork of its own: one identity map per request or job (inside a transaction, the transaction's). */
  em: EntityManager;
  /** Set inside a transaction (see db/transaction.ts): work that must wait for the commit. */
  afterCommit?: (fn: () => Promise<unknown>) => void;
  /** Set inside a transaction: the statements that must come last (the audit row). */
  beforeCommit?: (fn: () => Promise<unknown>) => void;
  publisher: EventPublisher;
  scheduler: JobScheduler;
  /** Where new runs go in: stored, enqueued and published before they are acknowledged. */
  intake: RunIntake;
  provider: StoryProvider;
  cache: StoryCache;
  /** Undefined when GITHUB_TOKEN is not set. */
  github: GitHubGateway | undefined;
  /** Writes documentation updates: Claude, or the offline writer. */
  docsWriter: DocsWriter;
  /** Writes the prose of a deploy's change summary: Claude, or the offline summariser. */
  changeSummariser: ChangeSummariser;
  /** The issue trackers configured (GitHub Issues, Jira, Linear). */
  trackers: IssueTrackers;
  /** Outgoing email; undefined when SMTP_URL is not set. */
  mailer: Mailer | undefined;
  config: Pick<AppConfig, 'publicUrl' | 'admins' | 'storyCacheTtlSeconds' | 'deployPollBaseMs' | 'docsBudgetChars' | 'emails' | 'webhooks'> & { projects: ProjectConfig[]; access: AccessConfig };
  /** Rate limits (Redis, shared by every process); absent: unlimited (tools, some tests). */
  limits?: RateLimits;
  logger: Logger;
  /** What core measures (src/metrics.ts); absent, nothing is measured. */
  metrics?: CoreMetrics;
}

export type LimitBucket = 'commands' | 'api' | 'signin' | 'badSignatures' | 'sockets';

export interface LimitState {
  ok: boolean;
  limit: number;
  remaining: number;
  /** When the window resets; for a refusal, when to try again. */
  resetMs: number;
}

/**
 * Rate limits shared by every web process. Implementations must answer at once when their store
 * is down (fail open to a per-process limit), never wait for it.
 */
export interface RateLimits {
  /** Takes one point; `ok: false` when the key is over its limit. */
  consume(bucket: LimitBucket, key: string): Promise<LimitState>;
  /**
   * Whether the key was refused recently, as this process last heard from the shared store: no
   * round trip (it guards every webhook). A key refused elsewhere is refused here at its next consume.
   */
  peek(bucket: LimitBucket, key: string): Promise<LimitState>;
}

/**
 * Where stored events go next. Workers publish through Redis (not by holding a Socket.IO
 * server), so any web process can deliver any run's events.
 */
export interface EventPublisher {
  publish(event: RunEventMessage): Promise<void>;
  /** Several events in one round trip, in order. */
  publishMany(events: RunEventMessage[]): Promise<void>;
}

/** Core's view of the job queue; src/jobs implements it with BullMQ. Fails fast when Redis is down. */
export interface JobScheduler {
  /** Whether the queue answers now (a run stored while it does not is queued by the sweep later). */
  available?(): boolean;
  /**
   * Puts runs' jobs on their queues, in one round trip. Idempotent per run. `trace` (ids only)
   * follows the job into its log lines; without it the current request's or job's is used.
   */
  enqueueRuns(runs: Array<{ id: number; kind: string; ref?: string; trace?: JobTrace }>): Promise<void>;
  /** Asks for the run's chat message to be brought up to date with event `seq`. */
  enqueueChatRender(runId: number, seq: number, ref?: string): Promise<void>;
  enqueueChatRenders(renders: Array<{ runId: number; seq: number }>): Promise<void>;
  /**
   * A later phase of a run (after an approval, an expiry check): one job per run and phase name,
   * so two callers asking for the same phase make one job.
   */
  enqueueRunPhase(run: { id: number; kind: string; ref?: string }, phase: string, delayMs?: number): Promise<void>;
  /** Asks for the run's notifications (webhooks, email) up to event `seq`; a no-op when none are configured. */
  enqueueNotify(runId: number, seq: number): Promise<void>;
  /** Hands webhook deliveries (stored rows) to their jobs, which retry with backoff. */
  enqueueWebhookDeliveries(ids: number[]): Promise<void>;
}

/** Ids that follow work from the request that started it into its jobs' log lines. Never secrets or user text. */
export interface JobTrace {
  requestId?: string | undefined;
  deliveryId?: string | undefined;
}

/** Who did something, and from where: `slack:U0123` in `slack:C0456`. */
export interface Actor {
  id: string;
  platform: string;
  channel?: string | null;
  displayName?: string;
  /** A direct message: there is no channel to link or to deploy from. */
  direct?: boolean;
  /**
   * A reply marked ephemeral reaches this person only (Slack's ephemeral messages, Discord's
   * ephemeral flag, a 1:1 chat). Unset: others in the conversation may see it, so nothing secret
   * (a whoami link) goes into it.
   */
  privateReplies?: boolean;
  /** Groups the identity provider named at sign-in (console sessions). */
  groups?: string[];
  /** An API token's scopes; undefined: everything the person may do (chat, console). */
  scopes?: string[];
}
