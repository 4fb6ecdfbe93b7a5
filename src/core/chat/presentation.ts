import { STAGES, type ApprovalState, type ChangeSummary, type RunStatus, type RunSummary, type Verification } from '../runs/model.js';
import type { StoryRecord } from '../stories/store.js';
import type { ExportRecord } from '../exports/store.js';
import { writtenBy } from '../ai/provider.js';

/**
 * How a run is presented, decided once for every platform. The cards in src/bots/<platform>/
 * only turn this into their syntax (Block Kit, Discord embeds, Adaptive Cards) and escape user
 * text for it; the web feed mirrors the same stages and labels.
 */

/** Button and card action ids, the same on every platform. */
export const ACTIONS = {
  accept: 'story_accept',
  regenerate: 'story_regenerate',
  approve: 'deploy_approve',
  reject: 'deploy_reject',
  promote: 'deploy_promote',
  rollback: 'deploy_rollback',
  createIssue: 'story_issue',
  openPr: 'story_pr',
} as const;

/** A button on a card: the action id, its label, the value it carries (a run reference or a story id), its style. */
export interface CardAction {
  action: (typeof ACTIONS)[keyof typeof ACTIONS];
  label: string;
  value: string;
  style?: 'primary' | 'danger';
}

export function runUrl(publicUrl: string, ref: string): string {
  return `${publicUrl}/runs/${ref}`;
}

const STATUS_LABELS: Record<RunStatus, string> = {
  queued: 'queued',
  running: 'running',
  waiting_approval: 'waiting for approval',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
  needs_input: 'needs a better description',
};

export function statusLabel(status: RunStatus): string {
  return STATUS_LABELS[status] ?? status;
}

/** "R-1042 · story · running (60%)" */
export function headline(run: RunSummary): string {
  return `${run.ref} · ${run.kind} · ${statusLabel(run.status)}${run.status === 'running' ? ` (${run.progress}%)` : ''}`;
}

export type StageState = 'done' | 'current' | 'failed' | 'todo';

/**
 * The run's stages and where it stands. `repair` is listed only when the story went through it;
 * a deploy still "queued" is at its first stage.
 */
export function timeline(run: RunSummary): Array<{ stage: string; state: StageState }> {
  const repaired = run.stage === 'repair' || run.result.repaired === true;
  const exported = run.stage === 'export' || (run.kind === 'story' && Boolean(run.input.exports?.length));
  const stages = STAGES[run.kind].filter((s) => (s !== 'repair' || repaired) && (s !== 'export' || exported));
  const at = run.stage === 'queued' && run.kind !== 'story' ? stages[0]! : (run.stage ?? '');
  const current = stages.indexOf(at);
  return stages.map((stage, i) => {
    if (run.status === 'succeeded' || i < current) return { stage, state: 'done' };
    if (i === current) return { stage, state: run.status === 'failed' || run.status === 'cancelled' ? 'failed' : 'current' };
    return { stage, state: 'todo' };
  });
}

/** A story run that ended asking for a better description: what is missing, an example, what to do. */
export function needsInputView(run: RunSummary, prefix = '/autodevhub'): { missing: string; example: string; next: string } | undefined {
  if (run.status !== 'needs_input' || run.kind !== 'story' || !run.result.needsInput) return undefined;
  const { missing, example } = run.result.needsInput;
  return { missing, example, next: `Run ${prefix} story … again with the description rewritten.` };
}

export function generatorLabel(story: Pick<StoryRecord, 'provider' | 'model'>): string {
  return story.provider === 'offline' ? 'offline generator (no AI model)' : writtenBy(story.provider, story.model);
}

export function storyTitle(story: Pick<StoryRecord, 'gherkin'>, fallback = 'User story'): string {
  return /^\s*Feature:\s*(.+)$/m.exec(story.gherkin)?.[1]?.trim() ?? fallback;
}

export type Tone = 'success' | 'failure' | 'cancelled' | 'notice';

/** A finished run in one line (plain text: each platform escapes it for its markup). */
export function outcome(run: RunSummary): { tone: Tone; text: string; url: string | null } {
  if (run.kind === 'docs') {
    const pr = run.result.pullRequestUrl ?? null;
    return { tone: 'notice', text: `Documentation update for ${run.input.repo} (${run.ref}): ${pr ?? statusLabel(run.status)}`, url: pr };
  }
  const url = run.kind === 'deploy' ? (run.result.deploymentUrl ?? null) : null;
  if (run.status === 'succeeded' && run.kind === 'deploy' && run.input.trigger === 'auto_rollback') {
    return { tone: 'success', text: `${run.ref} rolled ${run.input.environment} back to ${String(run.result.sha ?? '').slice(0, 7)}${url ? `: ${url}` : ''}`, url };
  }
  if (run.status === 'succeeded') {
    const what = run.kind === 'deploy' ? `deployed ${String(run.result.sha ?? '').slice(0, 7)} to ${run.input.environment}` : 'succeeded';
    return { tone: 'success', text: `${run.ref} ${what}${url ? `: ${url}` : ''}`, url };
  }
  if (run.status === 'cancelled') return { tone: 'cancelled', text: `${run.ref} was cancelled; nothing was ${run.kind === 'deploy' ? 'deployed' : 'changed'}.`, url: null };
  return { tone: 'failure', text: `${run.ref} did not ${run.kind === 'deploy' ? 'deploy' : 'finish'}: ${run.error ?? 'failed'}`, url: null };
}

export interface ApprovalView {
  repo: string;
  environment: string;
  requestedBy: string;
  /** Who may decide (handles), or empty: an admin. */
  deciders: string[];
  required: number;
  approved: number;
  notRequester: boolean;
  decisions: ApprovalState['decisions'];
  open: boolean;
  expiresAt: string;
  /** When closed: why, e.g. "failed (Rejected by slack:U2)". */
  closed: string | null;
  /** What the deploy changes, when it was summarised. */
  changes: ReturnType<typeof changeLines> | null;
  compareUrl: string | null;
  /** Why this deploy: a promotion or a rollback, in words. */
  origin: string | null;
}

export function approvalView(run: RunSummary & { kind: 'deploy' }, approvals: ApprovalState): ApprovalView {
  const open = run.status === 'waiting_approval';
  return {
    repo: run.input.repo,
    environment: run.input.environment,
    requestedBy: run.requestedBy,
    deciders: approvals.approvers,
    required: approvals.required,
    approved: approvals.decisions.filter((d) => d.decision === 'approve').length,
    notRequester: approvals.preventSelfApproval,
    decisions: approvals.decisions,
    open,
    expiresAt: approvals.expiresAt,
    closed: open ? null : `${statusLabel(run.status)}${run.stage === 'approval' && run.error ? ` (${run.error})` : ''}`,
    changes: run.result.changes ? changeLines(run.result.changes) : null,
    compareUrl: run.result.changes?.compareUrl ?? null,
    origin: deployOrigin(run),
  };
}

/** "Promoted from R-12 (staging)", "Rollback of R-14", "Automatic rollback of R-14": null for a typed deploy. */
export function deployOrigin(run: RunSummary & { kind: 'deploy' }): string | null {
  const i = run.input;
  if (i.trigger === 'promote' && i.promotedFrom) return `Promotion of ${i.promotedFrom}'s commit`;
  if (i.trigger === 'rollback' && i.rollbackOf) return `Rollback of ${i.rollbackOf} (${(i.rollbackFromSha ?? '').slice(0, 7)})`;
  if (i.trigger === 'auto_rollback' && i.rollbackOf) return `Automatic rollback of ${i.rollbackOf} after its smoke check failed`;
  return null;
}

/** The text fallback for the approval buttons, as a person would type it. */
export function approvalCommands(ref: string, prefix = '/autodevhub'): string {
  return `${prefix} approve ${ref} / ${prefix} reject ${ref} <reason>`;
}

/** The buttons under a finished deploy: Promote to the next environment, or Roll back a failed one. */
export function outcomeActions(run: RunSummary, nextEnvironment: string | undefined): CardAction[] {
  if (run.kind !== 'deploy') return [];
  if (run.status === 'succeeded' && nextEnvironment) return [{ action: ACTIONS.promote, label: `Promote to ${nextEnvironment}`, value: run.ref, style: 'primary' }];
  // A deployment was made (or verified and found unhealthy), and nothing is rolling back yet.
  if (run.status === 'failed' && run.result.deploymentId && !run.result.rolledBackBy) return [{ action: ACTIONS.rollback, label: `Roll back ${run.input.environment}`, value: run.ref, style: 'danger' }];
  return [];
}

/** The change summary as lines of plain text (each platform escapes them). */
export function changeLines(c: ChangeSummary, maxCommits = 8): { headline: string; summary: string | null; commits: string[]; areas: string | null; risks: string[]; footer: string } {
  const short = (sha: string | null) => (sha ?? '').slice(0, 7);
  const range = c.baseSha ? `${short(c.baseSha)}…${short(c.headSha)}` : short(c.headSha);
  const headline =
    c.direction === 'first'
      ? `First deploy here: ${short(c.headSha)}`
      : c.direction === 'same'
        ? `Already deployed here: ${short(c.headSha)}, no changes`
        : `${c.direction === 'rollback' ? 'Takes out' : 'Brings'} ${c.commitCount} commit${c.commitCount === 1 ? '' : 's'} (${range})${c.authors.length ? ` by ${c.authors.slice(0, 5).join(', ')}${c.authors.length > 5 ? ` +${c.authors.length - 5}` : ''}` : ''} · ${c.fileCount} file${c.fileCount === 1 ? '' : 's'}`;
  const commits = c.commits.slice(0, maxCommits).map((x) => `${short(x.sha)} ${x.subject} (${x.author})`);
  if (c.commits.length > maxCommits || c.commitCount > c.commits.length) commits.push(`… and ${c.commitCount - Math.min(maxCommits, c.commits.length)} more`);
  return {
    headline,
    summary: c.summary,
    commits,
    areas: c.areas.length ? `Files by area: ${c.areas.slice(0, 6).map((a) => `${a.area} ${a.files}`).join(', ')}` : null,
    risks: c.risks.map((r) => `${r.note} (${r.files.slice(0, 3).join(', ')}${r.files.length > 3 ? ', …' : ''})`),
    footer: `Summary by the ${c.generator}`,
  };
}

/** A verification, as one line per check. */
export function verificationLines(v: Verification): string[] {
  return v.checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.detail}`);
}

/** Exports of a story version: links shown, and buttons for what is not there yet. */
export function storyExportView(story: Pick<StoryRecord, 'id' | 'status'>, options: { issue: string | null; pullRequest: boolean }, exports: ExportRecord[]): { links: Array<{ label: string; url: string }>; actions: CardAction[] } {
  const done = (kind: ExportRecord['kind']) => exports.find((e) => e.kind === kind && e.state === 'done' && e.url);
  const issue = done('issue');
  const pr = done('pull_request');
  const links = [
    ...(issue ? [{ label: `Issue ${issue.externalId ?? ''} (${issue.target})`.replace('  ', ' '), url: issue.url! }] : []),
    ...(pr ? [{ label: `Pull request ${pr.externalId ?? ''}`.trim(), url: pr.url! }] : []),
  ];
  if (story.status === 'superseded') return { links, actions: [] };
  const actions: CardAction[] = [];
  if (options.issue && !issue) actions.push({ action: ACTIONS.createIssue, label: 'Create issue', value: String(story.id) });
  if (options.pullRequest && !pr) actions.push({ action: ACTIONS.openPr, label: 'Open PR', value: String(story.id) });
  return { links, actions };
}
