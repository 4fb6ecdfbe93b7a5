import type { RunSummary } from '../../core/services/runs.js';
import type { StoryRecord } from '../../core/services/stories.js';
import type { ApprovalState } from '../../core/services/deploys.js';
import { cutAtLine } from '../../core/text.js';

/** Slack's limits (Block Kit reference): a section's text 3,000 characters, a header 150, a button's text 75. */
export const SECTION_TEXT_MAX = 3000;
const HEADER_MAX = 150;
const FALLBACK_TEXT_MAX = 3000;

export const ACTION_ACCEPT = 'story_accept';
export const ACTION_REGENERATE = 'story_regenerate';

const STATUS_ICON: Record<string, string> = {
  queued: ':hourglass_flowing_sand:',
  running: ':gear:',
  waiting_approval: ':raised_hand:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  cancelled: ':no_entry_sign:',
};

const STAGES: Record<string, string[]> = {
  story: ['queued', 'generate', 'validate', 'store', 'done'],
  deploy: ['resolve', 'gate', 'approval', 'deploy', 'verify'],
  docs: ['compare', 'select', 'generate', 'write', 'pull_request'],
};

export const ACTION_APPROVE = 'deploy_approve';
export const ACTION_REJECT = 'deploy_reject';

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function who(handle: string): string {
  const [platform, id] = handle.split(':');
  return platform === 'slack' && id ? `<@${id}>` : escapeMrkdwn(handle);
}

function timeline(run: RunSummary): string {
  const stages = STAGES[run.kind] ?? [];
  const current = stages.indexOf(run.stage === 'queued' && run.kind === 'deploy' ? 'resolve' : (run.stage ?? ''));
  return stages.map((s, i) => {
    if (run.status === 'succeeded' || i < current) return `~${s}~ :heavy_check_mark:`;
    if (i === current) return run.status === 'failed' || run.status === 'cancelled' ? `*${s}* :x:` : `*${s}*`;
    return s;
  }).join('  →  ');
}

export function runMessage(run: RunSummary, webUrl: string) {
  const icon = STATUS_ICON[run.status] ?? '';
  const description = clip(String(run.input.description ?? ''), 280);
  const headline = `${icon} *${run.ref}* · ${run.kind} · *${run.status.replace('_', ' ')}*${run.status === 'running' ? ` (${run.progress}%)` : ''}`;
  const text = `${run.ref} ${run.kind}: ${run.status}`;
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(`${headline}\n>${escapeMrkdwn(description)}`, SECTION_TEXT_MAX) } },
  ];
  if (STAGES[run.kind]) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: timeline(run) }] });
  if (run.kind === 'deploy' && typeof run.result?.sha === 'string') {
    const commit = typeof run.result.commitUrl === 'string' ? `<${run.result.commitUrl}|${run.result.sha.slice(0, 7)}>` : run.result.sha.slice(0, 7);
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${escapeMrkdwn(String(run.result.ref ?? ''))} → ${commit}` }] });
  }
  if (run.error) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`:warning: ${escapeMrkdwn(run.error)}`, SECTION_TEXT_MAX) } });
  }
  blocks.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `Requested by ${who(run.requestedBy)} · <${webUrl}|Open in AutoDevHub>` }],
  });
  return { text, blocks };
}

function generatorLabel(story: StoryRecord): string {
  return story.provider === 'offline' ? 'offline generator (no AI model)' : `Claude (${story.model})`;
}

/**
 * The story in the thread: Gherkin in a code block, score, generator, and the two buttons. A
 * story too long for one section is cut at a line break and links to the full text.
 */
export function storyMessage(story: StoryRecord, webUrl: string, runRef: string) {
  const fence = '```';
  const room = SECTION_TEXT_MAX - fence.length * 2 - 2;
  // Escape first, then measure: escaping lengthens the text. Triple backticks would end the block.
  const { text: gherkin, truncated } = cutAtLine(escapeMrkdwn(story.gherkin.trimEnd()).replace(/```/g, "'''"), room);
  const title = /^\s*Feature:\s*(.+)$/m.exec(story.gherkin)?.[1] ?? 'User story';
  const facts = [
    `*Confidence* ${story.confidenceScore.toFixed(2)}`,
    `*Generator* ${generatorLabel(story)}`,
    `*Version* ${story.version}`,
    ...(story.cached ? ['served from cache'] : []),
  ].join(' · ');
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`User story: ${title}`, HEADER_MAX), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${fence}\n${gherkin}\n${fence}` } },
  ];
  if (truncated) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `The story is longer than Slack shows. <${webUrl}|Read all of ${runRef}>` }],
    });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: facts }] });
  if (story.status === 'accepted') {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `:white_check_mark: Accepted by ${who(story.acceptedBy ?? '')}` }],
    });
  } else if (story.status === 'superseded') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Replaced by a newer version below.' }] });
  } else {
    blocks.push({
      type: 'actions',
      block_id: `story:${story.id}`,
      elements: [
        { type: 'button', action_id: ACTION_ACCEPT, text: { type: 'plain_text', text: 'Accept' }, style: 'primary', value: String(story.id) },
        { type: 'button', action_id: ACTION_REGENERATE, text: { type: 'plain_text', text: 'Regenerate' }, value: String(story.id) },
      ],
    });
  }
  const text = clip(`User story ${runRef} (confidence ${story.confidenceScore.toFixed(2)}, ${generatorLabel(story)}): ${title}`, FALLBACK_TEXT_MAX);
  return { text, blocks };
}

function when(iso: string): string {
  const t = Math.floor(Date.parse(iso) / 1000);
  return `<!date^${t}^{date_short_pretty} {time}|${iso}>`;
}

/** The approval request in the run's thread: who may decide, decisions so far, the buttons while open. */
export function approvalMessage(run: RunSummary, approvals: ApprovalState, webUrl: string) {
  const env = String(run.input.environment ?? '');
  const repo = String(run.input.repo ?? '');
  const deciders = approvals.approvers.length ? approvals.approvers.map(who).join(', ') : 'an admin';
  const approved = approvals.decisions.filter((d) => d.decision === 'approve').length;
  const lines = [
    `*Approval needed* to deploy *${escapeMrkdwn(repo)}* to *${escapeMrkdwn(env)}* (${run.ref}), requested by ${who(run.requestedBy)}.`,
    `${approvals.required} approval(s) from: ${deciders}${approvals.preventSelfApproval ? ' (not the requester)' : ''}. ${approved} of ${approvals.required} so far.`,
  ];
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SECTION_TEXT_MAX) } }];
  if (approvals.decisions.length) {
    const decided = approvals.decisions
      .map((d) => `${d.decision === 'approve' ? ':white_check_mark: approved' : ':x: rejected'} by ${who(d.by)} ${when(d.at)}${d.reason ? `: ${escapeMrkdwn(d.reason)}` : ''}`)
      .join('\n');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(decided, SECTION_TEXT_MAX) } });
  }
  if (run.status === 'waiting_approval') {
    blocks.push({
      type: 'actions',
      block_id: `approval:${run.id}`,
      elements: [
        { type: 'button', action_id: ACTION_APPROVE, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: run.ref },
        { type: 'button', action_id: ACTION_REJECT, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: run.ref },
      ],
    });
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Expires ${when(approvals.expiresAt)} · or type \`/autodevhub approve ${run.ref}\` / \`reject ${run.ref} <reason>\` · <${webUrl}|Open in AutoDevHub>` }] });
  } else {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Closed: ${run.status.replace('_', ' ')}${run.stage === 'approval' && run.error ? ` (${escapeMrkdwn(run.error)})` : ''}` }] });
  }
  return { text: `Approval needed: ${repo} to ${env} (${run.ref})`, blocks };
}

/** A finished deploy, posted once in the thread. */
export function outcomeMessage(run: RunSummary, webUrl: string) {
  const env = String(run.input.environment ?? '');
  const url = typeof run.result?.deploymentUrl === 'string' ? run.result.deploymentUrl : null;
  const sha = typeof run.result?.sha === 'string' ? run.result.sha.slice(0, 7) : '';
  const text =
    run.status === 'succeeded'
      ? `:rocket: ${run.ref} deployed ${sha} to *${escapeMrkdwn(env)}*${url ? `: <${url}|${escapeMrkdwn(url)}>` : ''}`
      : run.status === 'cancelled'
        ? `:no_entry_sign: ${run.ref} was cancelled; nothing was deployed.`
        : `:x: ${run.ref} did not deploy: ${escapeMrkdwn(run.error ?? 'failed')}`;
  return { text: clip(text.replace(/[*:]/g, ''), FALLBACK_TEXT_MAX), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: clip(`${text}\n<${webUrl}|Details>`, SECTION_TEXT_MAX) } }] };
}

/** A docs pull request announced in a linked channel. */
export function noticeMessage(run: RunSummary, webUrl: string) {
  const pr = typeof run.result?.pullRequestUrl === 'string' ? run.result.pullRequestUrl : null;
  const repo = escapeMrkdwn(String(run.input.repo ?? ''));
  const text = pr
    ? `:memo: Documentation update for *${repo}* (${run.ref}): <${pr}|${escapeMrkdwn(pr)}>`
    : `:memo: ${run.ref} for *${repo}*: ${run.status}`;
  return { text: clip(`Documentation update for ${run.input.repo} (${run.ref}): ${pr ?? run.status}`, FALLBACK_TEXT_MAX), blocks: [{ type: 'section', text: { type: 'mrkdwn', text: clip(`${text}\n<${webUrl}|Details>`, SECTION_TEXT_MAX) } }] };
}
