import { z } from 'zod';

/**
 * The run: what every workflow is built around. Its kinds, statuses and stages, and the typed
 * input and result of each kind. Input and result are stored as jsonb and parsed here on every
 * read, so the rest of the code reads fields, not bags.
 */

export const RUN_KINDS = ['story', 'docs', 'deploy'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** `needs_input`: finished without a result because the request itself must change (a story's description). */
export const RUN_STATUSES = ['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled', 'needs_input'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled', 'needs_input'];
export const OPEN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'waiting_approval'];

export function isFinal(status: RunStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** The stages a run of each kind goes through, in order. `repair` is shown only when it happened. */
export const STAGES: Record<RunKind, readonly string[]> = {
  story: ['queued', 'generate', 'validate', 'repair', 'store', 'export', 'done'],
  deploy: ['resolve', 'gate', 'approval', 'deploy', 'verify'],
  docs: ['compare', 'select', 'generate', 'write', 'pull_request'],
};

export function runRef(number: number): string {
  return `R-${number}`;
}

const approvalDecision = z.object({
  by: z.string(),
  decision: z.enum(['approve', 'reject']),
  reason: z.string().nullable(),
  at: z.string(),
});

export const approvalStateSchema = z.object({
  required: z.number(),
  approvers: z.array(z.string()),
  preventSelfApproval: z.boolean(),
  decisions: z.array(approvalDecision),
  /** Listed approvers who have not decided (admins may also decide). */
  pending: z.array(z.string()),
  expiresAt: z.string(),
});
export type ApprovalState = z.infer<typeof approvalStateSchema>;

// Input: what the request said, fixed at intake. Result: what the workflow found out, merged
// stage by stage. Unknown keys are kept (looseObject) so an older or newer worker loses nothing.
export const storyInputSchema = z.looseObject({
  description: z.string(),
  parentStoryId: z.number().int().optional(),
  threadTs: z.string().optional(),
  /** `story … --issue` / `--pr`: export the story once it is stored. */
  exports: z.array(z.enum(['issue', 'pull_request'])).optional(),
});
export const storyResultSchema = z.looseObject({
  storyId: z.number().int().optional(),
  repaired: z.boolean().optional(),
  /** Set when the run ended as needs_input: what the description lacks, and an example. */
  needsInput: z.looseObject({ reason: z.string(), missing: z.string(), example: z.string() }).optional(),
});

export const docsInputSchema = z.looseObject({
  description: z.string(),
  repo: z.string(),
  base: z.string().nullable().optional(),
  head: z.string().nullable().optional(),
  trigger: z.enum(['push', 'command']),
  deliveryId: z.string().optional(),
  receivedAt: z.number().optional(),
});
export const docsResultSchema = z.looseObject({
  baseSha: z.string().optional(),
  headSha: z.string().optional(),
  branch: z.string().optional(),
  commit: z.string().optional(),
  pullRequestUrl: z.string().optional(),
  prCreated: z.boolean().optional(),
  /** From the push's arrival to the pull request link being posted, once. */
  pushToLinkMs: z.number().optional(),
});

export const deployInputSchema = z.looseObject({
  description: z.string(),
  repo: z.string(),
  environment: z.string(),
  ref: z.string().optional(),
  /** The commit to deploy when it is fixed at request time (a promotion, a rollback). */
  sha: z.string().optional(),
  /** How the deploy came about: typed, promoted from an earlier run, a rollback (asked for or automatic). */
  trigger: z.enum(['command', 'promote', 'rollback', 'auto_rollback']).optional(),
  /** The run whose commit is promoted. */
  promotedFrom: z.string().optional(),
  /** The run (and commit) being rolled back. */
  rollbackOf: z.string().optional(),
  rollbackFromSha: z.string().optional(),
  /** The Slack thread to answer in (an automatic rollback answers in the failed run's thread). */
  threadTs: z.string().optional(),
  /** An admin's override of locks, freezes, branch rules, soak and wait timers, with the reason (docs/deploy-safety.md). */
  override: z.looseObject({ by: z.string(), reason: z.string() }).optional(),
});

const changedCommit = z.looseObject({ sha: z.string(), subject: z.string(), author: z.string() });
/** What a deploy changes in its environment, compared with what is deployed there now. */
export const changeSummarySchema = z.looseObject({
  /** Deployed now (null: nothing recorded in this environment yet). */
  baseSha: z.string().nullable(),
  headSha: z.string(),
  direction: z.enum(['forward', 'rollback', 'same', 'first']),
  commitCount: z.number(),
  commits: z.array(changedCommit),
  authors: z.array(z.string()),
  fileCount: z.number(),
  areas: z.array(z.looseObject({ area: z.string(), files: z.number(), examples: z.array(z.string()) })),
  risks: z.array(z.looseObject({ kind: z.string(), note: z.string(), files: z.array(z.string()) })),
  /** A short prose summary (Claude), when there is one. */
  summary: z.string().nullable(),
  generator: z.string(),
  compareUrl: z.string().nullable().optional(),
});
export type ChangeSummary = z.infer<typeof changeSummarySchema>;

const smokeAttempt = z.looseObject({ attempt: z.number(), ok: z.boolean(), status: z.number().nullable(), detail: z.string(), ms: z.number() });
export const verificationSchema = z.looseObject({
  passed: z.boolean(),
  checks: z.array(z.looseObject({ kind: z.enum(['http', 'github_status']), target: z.string(), ok: z.boolean(), detail: z.string(), attempts: z.array(smokeAttempt).default([]) })),
  at: z.string(),
});
export type Verification = z.infer<typeof verificationSchema>;
export const deployResultSchema = z.looseObject({
  sha: z.string().optional(),
  ref: z.string().optional(),
  commitUrl: z.string().optional(),
  gateStartedAt: z.string().optional(),
  approvalRequestedAt: z.string().optional(),
  approvals: approvalStateSchema.optional(),
  deploymentId: z.number().optional(),
  deployStartedAt: z.string().optional(),
  deploymentUrl: z.string().nullable().optional(),
  environmentUrl: z.string().nullable().optional(),
  logUrl: z.string().nullable().optional(),
  changes: changeSummarySchema.optional(),
  verification: verificationSchema.optional(),
  /** Set when a failed verification started a rollback by itself. */
  rolledBackBy: z.string().optional(),
  /** Deploy safety: when the run was approved (or needed none) and ready to deploy; until when it waits, and why. */
  readyAt: z.string().optional(),
  waitUntil: z.string().nullable().optional(),
  waitingFor: z.string().optional(),
});

export type StoryInput = z.infer<typeof storyInputSchema>;
export type StoryResult = z.infer<typeof storyResultSchema>;
export type DocsInput = z.infer<typeof docsInputSchema>;
export type DocsResult = z.infer<typeof docsResultSchema>;
export type DeployInput = z.infer<typeof deployInputSchema>;
export type DeployResult = z.infer<typeof deployResultSchema>;

export const inputSchemas = { story: storyInputSchema, docs: docsInputSchema, deploy: deployInputSchema } as const;
export const resultSchemas = { story: storyResultSchema, docs: docsResultSchema, deploy: deployResultSchema } as const;

interface RunBase {
  id: number;
  ref: string;
  number: number;
  status: RunStatus;
  stage: string | null;
  progress: number;
  projectKey: string | null;
  requestedBy: string;
  sourcePlatform: string;
  channel: string | null;
  /** The message that follows the run in chat, e.g. slack:C0123:1712345678.000100 */
  threadRef: string | null;
  error: string | null;
  lastSeq: number;
  /** The last seq chat has shown. */
  chatSeq: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Where a person can follow the run outside AutoDevHub: the chat thread, a PR, a deployment. */
  links: Record<string, string>;
}

export type StoryRun = RunBase & { kind: 'story'; input: StoryInput; result: StoryResult };
export type DocsRun = RunBase & { kind: 'docs'; input: DocsInput; result: DocsResult };
export type DeployRun = RunBase & { kind: 'deploy'; input: DeployInput; result: DeployResult };
export type RunSummary = StoryRun | DocsRun | DeployRun;

/** A run event as stored and broadcast (DESIGN.md, "Run events"). */
export interface RunEventMessage {
  runId: number;
  ref: string;
  projectKey: string | null;
  kind: RunKind;
  seq: number;
  stage: string | null;
  status: RunStatus;
  progress: number;
  message: string;
  at: string;
  data: Record<string, unknown> | null;
}

export class RunDataError extends Error {
  override name = 'RunDataError';
}

/** Parses a stored input or result for its kind; data that does not fit is a bug, named loudly. */
export function parseRunData<K extends RunKind>(kind: K, part: 'input' | 'result', value: unknown, ref: string) {
  const schema = part === 'input' ? inputSchemas[kind] : resultSchemas[kind];
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) {
    throw new RunDataError(`${ref}: stored ${part} does not fit a ${kind} run: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Links a person can open; Slack's app_redirect opens the channel in the Slack client. */
export function runLinks(threadRef: string | null, result: Record<string, unknown>): Record<string, string> {
  const links: Record<string, string> = {};
  const [platform, channel] = (threadRef ?? '').split(':');
  if (platform === 'slack' && channel) links.thread = `https://slack.com/app_redirect?channel=${encodeURIComponent(channel)}`;
  for (const [key, field] of [['pullRequest', 'pullRequestUrl'], ['deployment', 'deploymentUrl']] as const) {
    const url = result[field];
    if (typeof url === 'string' && /^https?:\/\//.test(url)) links[key] = url;
  }
  return links;
}

/** Text that Postgres cannot store (NUL) or that is not valid Unicode (a lone surrogate). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text, or undefined when they are not valid UTF-8 (never silently replaced by U+FFFD). */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

export function unstorableText(value: string): string | undefined {
  if (value.includes('\u0000')) return 'a NUL character';
  if (!value.isWellFormed()) return 'a broken Unicode character (a lone surrogate)';
  return undefined;
}
