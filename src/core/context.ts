import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { AppConfig } from './config.js';
import type { EventPublisher } from './events.js';
import type { StoryProvider } from './ai/provider.js';
import type { StoryCache } from './services/story-cache.js';
import type { RunIntake } from './services/intake.js';
import type { GitHubGateway } from './github/client.js';
import type { ProjectConfig } from './config.js';
import type { DocsWriter } from './docs/writer.js';

/** What a core verb may touch; given by the surface or job that calls it. */
export interface CoreContext {
  /** A fork of its own: one identity map per request or job. */
  em: EntityManager;
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
  config: Pick<AppConfig, 'publicUrl' | 'admins' | 'storyCacheTtlSeconds' | 'deployPollBaseMs' | 'docsBudgetChars'> & { projects: ProjectConfig[] };
  logger: Logger;
}

/** Core's view of the job queue; src/jobs implements it with BullMQ. */
export interface JobScheduler {
  /** Puts runs' jobs on their queues, in one round trip. Idempotent per run. */
  enqueueRuns(runs: Array<{ id: number; kind: string }>): Promise<void>;
  /** Asks for the run's chat message to be brought up to date with event `seq`. */
  enqueueChatRender(runId: number, seq: number): Promise<void>;
  enqueueChatRenders(renders: Array<{ runId: number; seq: number }>): Promise<void>;
  /**
   * A later phase of a run (after an approval, an expiry check): one job per run and phase name,
   * so two callers asking for the same phase make one job.
   */
  enqueueRunPhase(run: { id: number; kind: string }, phase: string, delayMs?: number): Promise<void>;
}

/** Who did something, and from where: `slack:U0123` in `slack:C0456`. */
export interface Actor {
  id: string;
  platform: string;
  channel?: string | null;
  displayName?: string;
}
