import type { RunSummary } from '../../core/services/runs.js';
import type { StoryRecord } from '../../core/services/stories.js';
import type { ApprovalState } from '../../core/services/deploys.js';
import { cutAtLine } from '../../core/text.js';

/** Adaptive Cards (schema 1.4, Universal Actions): the run, the story, the approval. */
export const VERBS = { accept: 'story_accept', regenerate: 'story_regenerate', approve: 'deploy_approve', reject: 'deploy_reject' } as const;
const STAGES: Record<string, string[]> = {
  story: ['queued', 'generate', 'validate', 'store', 'done'],
  deploy: ['resolve', 'gate', 'approval', 'deploy', 'verify'],
  docs: ['compare', 'select', 'generate', 'write', 'pull_request'],
};
const STATUS_COLOR: Record<string, string> = { succeeded: 'Good', failed: 'Attention', cancelled: 'Attention', waiting_approval: 'Warning' };

function card(body: unknown[], actions: unknown[] = []) {
  return {
    contentType: 'application/vnd.microsoft.card.adaptive',
    content: { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.4', body, ...(actions.length && { actions }) },
  };
}

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'TextBlock', text: t, wrap: true, ...extra });

export function runCard(run: RunSummary, webUrl: string) {
  const stages = STAGES[run.kind] ?? [];
  const current = stages.indexOf(run.stage === 'queued' && run.kind !== 'story' ? stages[0]! : (run.stage ?? ''));
  const timeline = stages.map((s, i) => (run.status === 'succeeded' || i < current ? `✓ ${s}` : i === current ? `**${s}**` : s)).join(' → ');
  return card(
    [
      text(`${run.ref} · ${run.kind} · ${run.status.replace('_', ' ')}${run.status === 'running' ? ` (${run.progress}%)` : ''}`, { weight: 'Bolder', color: STATUS_COLOR[run.status] ?? 'Default' }),
      text(String(run.input.description ?? '').slice(0, 500), { isSubtle: true }),
      text(timeline, { size: 'Small' }),
      ...(run.error ? [text(run.error, { color: 'Attention' })] : []),
      text(`Requested by ${run.requestedBy}`, { size: 'Small', isSubtle: true }),
    ],
    [{ type: 'Action.OpenUrl', title: 'Open in AutoDevHub', url: webUrl }],
  );
}

export function storyCard(story: StoryRecord, webUrl: string, runRef: string) {
  // Teams limits a message to about 28 KB; the story card keeps well inside it.
  const { text: gherkin } = cutAtLine(story.gherkin, 20_000);
  const generator = story.provider === 'offline' ? 'offline generator (no AI model)' : `Claude (${story.model})`;
  const actions: unknown[] = [{ type: 'Action.OpenUrl', title: `Open ${runRef}`, url: webUrl }];
  if (story.status === 'draft') {
    actions.unshift(
      { type: 'Action.Execute', title: 'Accept', verb: VERBS.accept, data: { story: story.id }, style: 'positive' },
      { type: 'Action.Execute', title: 'Regenerate', verb: VERBS.regenerate, data: { story: story.id } },
    );
  }
  return card(
    [
      text(`User story: ${/^\s*Feature:\s*(.+)$/m.exec(story.gherkin)?.[1] ?? runRef}`, { weight: 'Bolder', size: 'Medium' }),
      { type: 'TextBlock', text: gherkin, wrap: true, fontType: 'Monospace' },
      { type: 'FactSet', facts: [{ title: 'Confidence', value: story.confidenceScore.toFixed(2) }, { title: 'Generator', value: generator }, { title: 'Version', value: String(story.version) }] },
      ...(story.status === 'accepted' ? [text(`Accepted by ${story.acceptedBy}`, { color: 'Good' })] : []),
    ],
    actions,
  );
}

export function approvalCard(run: RunSummary, approvals: ApprovalState, webUrl: string) {
  const open = run.status === 'waiting_approval';
  const approved = approvals.decisions.filter((d) => d.decision === 'approve').length;
  return card(
    [
      text(`Approval needed: deploy ${String(run.input.repo)} to ${String(run.input.environment)} (${run.ref})`, { weight: 'Bolder' }),
      text(`Requested by ${run.requestedBy}. ${approvals.required} approval(s) from ${approvals.approvers.join(', ') || 'an admin'}${approvals.preventSelfApproval ? ' (not the requester)' : ''}. ${approved} of ${approvals.required} so far.`),
      ...approvals.decisions.map((d) => text(`${d.decision === 'approve' ? '✅ approved' : '❌ rejected'} by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ''}`, { size: 'Small' })),
      text(open ? `Expires ${approvals.expiresAt}` : `Closed: ${run.status.replace('_', ' ')}`, { size: 'Small', isSubtle: true }),
    ],
    open
      ? [
          { type: 'Action.Execute', title: 'Approve', verb: VERBS.approve, data: { run: run.ref }, style: 'positive' },
          { type: 'Action.Execute', title: 'Reject', verb: VERBS.reject, data: { run: run.ref }, style: 'destructive' },
          { type: 'Action.OpenUrl', title: 'Details', url: webUrl },
        ]
      : [{ type: 'Action.OpenUrl', title: 'Details', url: webUrl }],
  );
}

export function outcomeText(run: RunSummary): string {
  const url = typeof run.result?.deploymentUrl === 'string' ? run.result.deploymentUrl : typeof run.result?.pullRequestUrl === 'string' ? run.result.pullRequestUrl : null;
  if (run.kind === 'docs') return `📝 Documentation update for ${String(run.input.repo)} (${run.ref}): ${url ?? run.status}`;
  if (run.status === 'succeeded') return `🚀 ${run.ref} deployed to ${String(run.input.environment)}${url ? `: ${url}` : ''}`;
  if (run.status === 'cancelled') return `🚫 ${run.ref} was cancelled; nothing was deployed.`;
  return `❌ ${run.ref} did not deploy: ${run.error ?? 'failed'}`;
}
