import type { RunSummary } from '../../core/services/runs.js';
import type { StoryRecord } from '../../core/services/stories.js';
import type { ApprovalState } from '../../core/services/deploys.js';
import { cutAtLine } from '../../core/text.js';

/** Discord's limits: an embed description 4,096 characters, a field value 1,024, a custom_id 100. */
const DESCRIPTION_MAX = 4096;
const FIELD_MAX = 1024;

export const CUSTOM = { accept: 'story_accept', regenerate: 'story_regenerate', approve: 'deploy_approve', reject: 'deploy_reject' } as const;

const COLOR: Record<string, number> = { queued: 0x9a6700, running: 0x9a6700, waiting_approval: 0xd29922, succeeded: 0x1a7f37, failed: 0xcf222e, cancelled: 0x6e7781 };
const STAGES: Record<string, string[]> = {
  story: ['queued', 'generate', 'validate', 'store', 'done'],
  deploy: ['resolve', 'gate', 'approval', 'deploy', 'verify'],
  docs: ['compare', 'select', 'generate', 'write', 'pull_request'],
};

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function who(handle: string): string {
  const [platform, id] = handle.split(':');
  return platform === 'discord' && id ? `<@${id}>` : handle;
}

function timeline(run: RunSummary): string {
  const stages = STAGES[run.kind] ?? [];
  const current = stages.indexOf(run.stage === 'queued' && run.kind !== 'story' ? stages[0]! : (run.stage ?? ''));
  return stages.map((s, i) => (run.status === 'succeeded' || i < current ? `~~${s}~~ ✓` : i === current ? `**${s}**` : s)).join(' → ');
}

/** Mentions are shown, never pinged: AutoDevHub does not notify people by accident. */
const quiet = { allowed_mentions: { parse: [] as string[] } };

export function runMessage(run: RunSummary, webUrl: string) {
  const fields = [{ name: 'Stages', value: clip(timeline(run) || run.stage || run.status, FIELD_MAX) }];
  if (run.error) fields.push({ name: 'Error', value: clip(run.error, FIELD_MAX) });
  return {
    content: '',
    embeds: [
      {
        title: clip(`${run.ref} · ${run.kind} · ${run.status.replace('_', ' ')}${run.status === 'running' ? ` (${run.progress}%)` : ''}`, 256),
        description: clip(String(run.input.description ?? ''), 1000),
        url: webUrl,
        color: COLOR[run.status] ?? 0x6e7781,
        fields,
        footer: { text: `Requested by ${run.requestedBy}` },
      },
    ],
    components: [],
    ...quiet,
  };
}

export function storyMessage(story: StoryRecord, webUrl: string, runRef: string) {
  const fence = '```';
  const room = DESCRIPTION_MAX - 2 * (fence.length + 10);
  const { text: gherkin, truncated } = cutAtLine(story.gherkin.trimEnd().replace(/```/g, "'''"), room);
  const title = /^\s*Feature:\s*(.+)$/m.exec(story.gherkin)?.[1] ?? 'User story';
  const generator = story.provider === 'offline' ? 'offline generator (no AI model)' : `Claude (${story.model})`;
  const fields = [
    { name: 'Confidence', value: story.confidenceScore.toFixed(2), inline: true },
    { name: 'Generator', value: generator, inline: true },
    { name: 'Version', value: String(story.version), inline: true },
  ];
  if (truncated) fields.push({ name: 'Truncated', value: `The story is longer than Discord shows: [read all of ${runRef}](${webUrl})`, inline: false });
  if (story.status === 'accepted') fields.push({ name: 'Accepted', value: `by ${who(story.acceptedBy ?? '')}`, inline: false });
  const components =
    story.status === 'draft'
      ? [
          {
            type: 1,
            components: [
              { type: 2, style: 3, label: 'Accept', custom_id: `${CUSTOM.accept}:${story.id}` },
              { type: 2, style: 2, label: 'Regenerate', custom_id: `${CUSTOM.regenerate}:${story.id}` },
            ],
          },
        ]
      : [];
  return {
    content: '',
    embeds: [{ title: clip(`User story: ${title}`, 256), description: `${fence}gherkin\n${gherkin}\n${fence}`, url: webUrl, color: 0x2f6feb, fields }],
    components,
    ...quiet,
  };
}

export function approvalMessage(run: RunSummary, approvals: ApprovalState, webUrl: string) {
  const deciders = approvals.approvers.length ? approvals.approvers.map(who).join(', ') : 'an admin';
  const approved = approvals.decisions.filter((d) => d.decision === 'approve').length;
  const decided = approvals.decisions.map((d) => `${d.decision === 'approve' ? '✅ approved' : '❌ rejected'} by ${who(d.by)} <t:${Math.floor(Date.parse(d.at) / 1000)}:t>${d.reason ? `: ${d.reason}` : ''}`).join('\n');
  const open = run.status === 'waiting_approval';
  return {
    content: '',
    embeds: [
      {
        title: clip(`Approval needed: deploy ${String(run.input.repo)} to ${String(run.input.environment)} (${run.ref})`, 256),
        description: clip(
          `Requested by ${who(run.requestedBy)}.\n${approvals.required} approval(s) from: ${deciders}${approvals.preventSelfApproval ? ' (not the requester)' : ''}. ${approved} of ${approvals.required} so far.` +
            (decided ? `\n\n${decided}` : '') +
            (open ? `\n\nExpires <t:${Math.floor(Date.parse(approvals.expiresAt) / 1000)}:R>` : `\n\nClosed: ${run.status.replace('_', ' ')}`),
          DESCRIPTION_MAX,
        ),
        url: webUrl,
        color: open ? 0xd29922 : (COLOR[run.status] ?? 0x6e7781),
      },
    ],
    components: open
      ? [
          {
            type: 1,
            components: [
              { type: 2, style: 3, label: 'Approve', custom_id: `${CUSTOM.approve}:${run.ref}` },
              { type: 2, style: 4, label: 'Reject', custom_id: `${CUSTOM.reject}:${run.ref}` },
            ],
          },
        ]
      : [],
    ...quiet,
  };
}

export function outcomeMessage(run: RunSummary, webUrl: string) {
  const url = typeof run.result?.deploymentUrl === 'string' ? run.result.deploymentUrl : typeof run.result?.pullRequestUrl === 'string' ? run.result.pullRequestUrl : null;
  const text =
    run.kind === 'docs'
      ? `📝 Documentation update for ${String(run.input.repo)} (${run.ref}): ${url ?? run.status}`
      : run.status === 'succeeded'
        ? `🚀 ${run.ref} deployed to ${String(run.input.environment)}${url ? `: ${url}` : ''}`
        : run.status === 'cancelled'
          ? `🚫 ${run.ref} was cancelled; nothing was deployed.`
          : `❌ ${run.ref} did not deploy: ${run.error ?? 'failed'}`;
  return { content: clip(`${text}\n<${webUrl}>`, 2000), ...quiet };
}
