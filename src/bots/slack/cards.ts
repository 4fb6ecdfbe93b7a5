import type { ApprovalState, RunSummary } from '../../core/runs/model.js';
import type { StoryRecord } from '../../core/stories/service.js';
import { cutAtLine } from '../../core/text.js';
import {
  ACTIONS,
  approvalCommands,
  approvalView,
  deployOrigin,
  generatorLabel,
  headline,
  needsInputView,
  outcome,
  statusLabel,
  storyTitle,
  timeline,
  verificationLines,
  type CardAction,
  type storyExportView,
  type Tone,
} from '../../core/chat/presentation.js';

/** Slack's limits (Block Kit reference): a section's text 3,000 characters, a header 150, a button's text 75. */
export const SECTION_TEXT_MAX = 3000;
const HEADER_MAX = 150;
const FALLBACK_TEXT_MAX = 3000;

export const ACTION_ACCEPT = ACTIONS.accept;
export const ACTION_REGENERATE = ACTIONS.regenerate;
export const ACTION_APPROVE = ACTIONS.approve;
export const ACTION_REJECT = ACTIONS.reject;

type StoryExtras = ReturnType<typeof storyExportView>;

function buttons(actions: CardAction[], blockId: string) {
  return {
    type: 'actions',
    block_id: blockId,
    elements: actions.map((a) => ({ type: 'button', action_id: a.action, text: { type: 'plain_text', text: a.label.slice(0, 75) }, value: a.value, ...(a.style && { style: a.style }) })),
  };
}

const STATUS_ICON: Record<string, string> = {
  queued: ':hourglass_flowing_sand:',
  running: ':gear:',
  waiting_approval: ':raised_hand:',
  succeeded: ':white_check_mark:',
  failed: ':x:',
  cancelled: ':no_entry_sign:',
  needs_input: ':pencil2:',
};
const TONE_ICON: Record<Tone, string> = { success: ':rocket:', failure: ':x:', cancelled: ':no_entry_sign:', notice: ':memo:' };

/**
 * Escapes the three characters Slack treats as control characters, in mrkdwn and in plain
 * `text` alike: user text can never become a mention (<!channel>), a link or a user reference.
 */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function who(handle: string): string {
  const [platform, id] = handle.split(':');
  return platform === 'slack' && id && /^[UW][A-Z0-9]+$/.test(id) ? `<@${id}>` : escapeMrkdwn(handle);
}

function link(url: string, label: string): string {
  return `<${url.replace(/[<>|]/g, encodeURIComponent)}|${escapeMrkdwn(label).replace(/\|/g, '¦')}>`;
}

function stagesLine(run: RunSummary): string {
  return timeline(run)
    .map(({ stage, state }) => (state === 'done' ? `~${stage}~ :heavy_check_mark:` : state === 'current' ? `*${stage}*` : state === 'failed' ? `*${stage}* :x:` : stage))
    .join('  →  ');
}

export function runMessage(run: RunSummary, webUrl: string) {
  const icon = STATUS_ICON[run.status] ?? '';
  const description = clip(run.input.description, 280);
  const head = `${icon} *${run.ref}* · ${run.kind} · *${statusLabel(run.status)}*${run.status === 'running' ? ` (${run.progress}%)` : ''}`;
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(`${head}\n>${escapeMrkdwn(description)}`, SECTION_TEXT_MAX) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: stagesLine(run) }] },
  ];
  if (run.kind === 'deploy' && run.result.sha) {
    const sha = run.result.sha.slice(0, 7);
    const commit = run.result.commitUrl ? link(run.result.commitUrl, sha) : sha;
    const origin = deployOrigin(run);
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${escapeMrkdwn(run.result.ref ?? '')} → ${commit}${origin ? ` · ${escapeMrkdwn(origin)}` : ''}` }] });
  }
  if (run.error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`:warning: ${escapeMrkdwn(run.error)}`, SECTION_TEXT_MAX) } });
  const needs = needsInputView(run);
  if (needs) {
    const ask = `*No story yet.* ${escapeMrkdwn(needs.missing)}\n${escapeMrkdwn(needs.example)}\n${escapeMrkdwn(needs.next)}`;
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(ask, SECTION_TEXT_MAX) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Requested by ${who(run.requestedBy)} · ${link(webUrl, 'Open in AutoDevHub')}` }] });
  return { text: escapeMrkdwn(headline(run)), blocks };
}

/**
 * The story in the thread: Gherkin in a code block, score, generator, and the two buttons. A
 * story too long for one section is cut at a line break and links to the full text.
 */
export function storyMessage(story: StoryRecord, webUrl: string, runRef: string, extras?: StoryExtras) {
  const fence = '```';
  const room = SECTION_TEXT_MAX - fence.length * 2 - 2;
  // Escape first, then measure: escaping lengthens the text. Triple backticks would end the block.
  const { text: gherkin, truncated } = cutAtLine(escapeMrkdwn(story.gherkin.trimEnd()).replace(/```/g, "'''"), room);
  const title = storyTitle(story);
  const facts = [
    `*Confidence* ${story.confidenceScore.toFixed(2)}`,
    `*Generator* ${generatorLabel(story)}`,
    `*Version* ${story.version}`,
    ...(story.cached ? ['served from cache'] : []),
    ...(story.costUsd != null ? [`$${story.costUsd.toFixed(4)}`] : []),
  ].join(' · ');
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`User story: ${title}`, HEADER_MAX), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: `${fence}\n${gherkin}\n${fence}` } },
  ];
  if (truncated) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `The story is longer than Slack shows. ${link(webUrl, `Read all of ${runRef}`)}` }] });
  if (story.openQuestions.length) {
    const list = story.openQuestions.map((q) => `• ${escapeMrkdwn(q)}`).join('\n');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Open questions*\n${list}`, SECTION_TEXT_MAX) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: facts }] });
  if (extras?.links.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: extras.links.map((l) => `:link: ${link(l.url, l.label)}`).join(' · ') }] });
  }
  const exportButtons = extras?.actions ?? [];
  if (story.status === 'accepted') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `:white_check_mark: Accepted by ${who(story.acceptedBy ?? '')}` }] });
    if (exportButtons.length) blocks.push(buttons(exportButtons, `story:${story.id}`));
  } else if (story.status === 'superseded') {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Replaced by a newer version below.' }] });
  } else {
    blocks.push(
      buttons(
        [
          { action: ACTIONS.accept, label: 'Accept', value: String(story.id), style: 'primary' },
          { action: ACTIONS.regenerate, label: 'Regenerate', value: String(story.id) },
          ...exportButtons,
        ],
        `story:${story.id}`,
      ),
    );
  }
  const text = clip(escapeMrkdwn(`User story ${runRef} (confidence ${story.confidenceScore.toFixed(2)}, ${generatorLabel(story)}): ${title}`), FALLBACK_TEXT_MAX);
  return { text, blocks };
}

function when(iso: string): string {
  const t = Math.floor(Date.parse(iso) / 1000);
  return `<!date^${t}^{date_short_pretty} {time}|${iso}>`;
}

/** The approval request in the run's thread: who may decide, decisions so far, the buttons while open. */
export function approvalMessage(run: RunSummary & { kind: 'deploy' }, approvals: ApprovalState, webUrl: string) {
  const v = approvalView(run, approvals);
  const deciders = v.deciders.length ? v.deciders.map(who).join(', ') : 'an admin';
  const lines = [
    `*Approval needed* to deploy *${escapeMrkdwn(v.repo)}* to *${escapeMrkdwn(v.environment)}* (${run.ref}), requested by ${who(v.requestedBy)}.`,
    `${v.required} approval(s) from: ${deciders}${v.notRequester ? ' (not the requester)' : ''}. ${v.approved} of ${v.required} so far.`,
  ];
  if (v.origin) lines.push(`_${escapeMrkdwn(v.origin)}_`);
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), SECTION_TEXT_MAX) } }];
  blocks.push(...changeBlocks(v));
  if (v.decisions.length) {
    const decided = v.decisions
      .map((d) => `${d.decision === 'approve' ? ':white_check_mark: approved' : ':x: rejected'} by ${who(d.by)} ${when(d.at)}${d.reason ? `: ${escapeMrkdwn(d.reason)}` : ''}`)
      .join('\n');
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(decided, SECTION_TEXT_MAX) } });
  }
  if (v.open) {
    blocks.push({
      type: 'actions',
      block_id: `approval:${run.id}`,
      elements: [
        { type: 'button', action_id: ACTIONS.approve, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: run.ref },
        { type: 'button', action_id: ACTIONS.reject, style: 'danger', text: { type: 'plain_text', text: 'Reject' }, value: run.ref },
      ],
    });
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Expires ${when(v.expiresAt)} · or type \`${approvalCommands(run.ref)}\` · ${link(webUrl, 'Open in AutoDevHub')}` }] });
  } else {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `Closed: ${escapeMrkdwn(v.closed ?? '')}` }] });
  }
  return { text: escapeMrkdwn(`Approval needed: ${v.repo} to ${v.environment} (${run.ref})`), blocks };
}

/** "What changes" on the approval request: headline, prose, commits, areas, risk notes, who summarised. */
function changeBlocks(v: ReturnType<typeof approvalView>): unknown[] {
  const c = v.changes;
  if (!c) return [];
  const head = v.compareUrl ? link(v.compareUrl, c.headline) : escapeMrkdwn(c.headline);
  const parts = [`*What changes:* ${head}`, ...(c.summary ? [escapeMrkdwn(c.summary)] : []), ...c.commits.map((l) => `• ${escapeMrkdwn(l)}`), ...(c.areas ? [escapeMrkdwn(c.areas)] : [])];
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(parts.join('\n'), SECTION_TEXT_MAX) } }];
  if (c.risks.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Risk notes*\n${c.risks.map((r) => `:warning: ${escapeMrkdwn(r)}`).join('\n')}`, SECTION_TEXT_MAX) } });
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(c.footer) }] });
  return blocks;
}

/** A finished run, posted once in the thread (deploys), or a docs pull request announced in a channel. */
export function outcomeMessage(run: RunSummary, webUrl: string, actions: CardAction[] = []) {
  const o = outcome(run);
  const text = `${TONE_ICON[o.tone]} ${escapeMrkdwn(o.text)}`;
  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: clip(`${text}\n${link(webUrl, 'Details')}`, SECTION_TEXT_MAX) } }];
  const verification = run.kind === 'deploy' ? run.result.verification : undefined;
  if (verification) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(verificationLines(verification).join('\n')), SECTION_TEXT_MAX) }] });
  if (actions.length) blocks.push(buttons(actions, `outcome:${run.id}`));
  return { text: clip(escapeMrkdwn(o.text), FALLBACK_TEXT_MAX), blocks };
}

export const noticeMessage = (run: RunSummary, webUrl: string) => outcomeMessage(run, webUrl);
