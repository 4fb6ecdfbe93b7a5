import type { ApprovalState, RunSummary } from '../../core/runs/model.js';
import type { StoryRecord } from '../../core/stories/service.js';
import { cutAtLine } from '../../core/text.js';
import { ACTIONS, approvalView, generatorLabel, headline, needsInputView, outcome, storyTitle, timeline, verificationLines, type CardAction, type storyExportView, type Tone } from '../../core/chat/presentation.js';

/** Discord's limits: an embed description 4,096 characters, a field value 1,024, a custom_id 100. */
const DESCRIPTION_MAX = 4096;
const FIELD_MAX = 1024;

export const CUSTOM = ACTIONS;

/** Discord button styles: 1 primary, 2 secondary, 3 success, 4 danger. */
function button(a: CardAction) {
  return { type: 2, style: a.style === 'primary' ? 3 : a.style === 'danger' ? 4 : 2, label: a.label.slice(0, 80), custom_id: `${a.action}:${a.value}` };
}

const COLOR: Record<string, number> = { queued: 0x9a6700, running: 0x9a6700, waiting_approval: 0xd29922, succeeded: 0x1a7f37, failed: 0xcf222e, cancelled: 0x6e7781, needs_input: 0xd29922 };
const TONE_ICON: Record<Tone, string> = { success: '🚀', failure: '❌', cancelled: '🚫', notice: '📝' };

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * User text in Discord markdown: formatting characters are escaped so a description cannot
 * fake a link, a heading or a code block. Mentions are never pinged either way (allowed_mentions).
 */
export function escapeMarkdown(s: string): string {
  return s
    .replace(/([\\`*_~|[\]])/g, '\\$1')
    .replace(/^(\s*)([#>-])/gm, '$1\\$2')
    .replace(/@(everyone|here)/g, '@\u200b$1');
}

function who(handle: string): string {
  const [platform, id] = handle.split(':');
  return platform === 'discord' && id && /^\d+$/.test(id) ? `<@${id}>` : escapeMarkdown(handle);
}

function stagesLine(run: RunSummary): string {
  return timeline(run)
    .map(({ stage, state }) => (state === 'done' ? `~~${stage}~~ ✓` : state === 'current' ? `**${stage}**` : state === 'failed' ? `**${stage}** ✗` : stage))
    .join(' → ');
}

/** Mentions are shown, never pinged: AutoDevHub does not notify people by accident. */
export const quiet = { allowed_mentions: { parse: [] as string[] } };

export function runMessage(run: RunSummary, webUrl: string) {
  const fields = [{ name: 'Stages', value: clip(stagesLine(run) || run.status, FIELD_MAX) }];
  if (run.error) fields.push({ name: 'Error', value: clip(escapeMarkdown(run.error), FIELD_MAX) });
  const needs = needsInputView(run);
  if (needs) fields.push({ name: 'No story yet', value: clip(escapeMarkdown(`${needs.missing}\n${needs.example}\n${needs.next}`), FIELD_MAX) });
  return {
    content: '',
    embeds: [
      {
        title: clip(headline(run), 256),
        description: clip(escapeMarkdown(run.input.description), 1000),
        url: webUrl,
        color: COLOR[run.status] ?? 0x6e7781,
        fields,
        footer: { text: clip(`Requested by ${run.requestedBy}`, 2048) },
      },
    ],
    components: [],
    ...quiet,
  };
}

export function storyMessage(story: StoryRecord, webUrl: string, runRef: string, extras?: ReturnType<typeof storyExportView>) {
  const fence = '```';
  const room = DESCRIPTION_MAX - 2 * (fence.length + 10);
  const { text: gherkin, truncated } = cutAtLine(story.gherkin.trimEnd().replace(/```/g, "'''"), room);
  const fields = [
    { name: 'Confidence', value: story.confidenceScore.toFixed(2), inline: true },
    { name: 'Generator', value: generatorLabel(story), inline: true },
    { name: 'Version', value: String(story.version), inline: true },
  ];
  if (story.openQuestions.length) fields.push({ name: 'Open questions', value: clip(story.openQuestions.map((q) => `• ${escapeMarkdown(q)}`).join('\n'), FIELD_MAX), inline: false });
  if (truncated) fields.push({ name: 'Truncated', value: `The story is longer than Discord shows: [read all of ${runRef}](${webUrl})`, inline: false });
  if (story.status === 'accepted') fields.push({ name: 'Accepted', value: `by ${who(story.acceptedBy ?? '')}`, inline: false });
  if (extras?.links.length) fields.push({ name: 'Links', value: clip(extras.links.map((l) => `[${escapeMarkdown(l.label)}](${l.url})`).join('\n'), FIELD_MAX), inline: false });
  const row = [
    ...(story.status === 'draft'
      ? [
          { type: 2, style: 3, label: 'Accept', custom_id: `${ACTIONS.accept}:${story.id}` },
          { type: 2, style: 2, label: 'Regenerate', custom_id: `${ACTIONS.regenerate}:${story.id}` },
        ]
      : []),
    ...(extras?.actions ?? []).map(button),
  ];
  const components = row.length ? [{ type: 1, components: row }] : [];
  return {
    content: '',
    embeds: [{ title: clip(`User story: ${storyTitle(story)}`, 256), description: `${fence}gherkin\n${gherkin}\n${fence}`, url: webUrl, color: 0x2f6feb, fields }],
    components,
    ...quiet,
  };
}

export function approvalMessage(run: RunSummary & { kind: 'deploy' }, approvals: ApprovalState, webUrl: string) {
  const v = approvalView(run, approvals);
  const deciders = v.deciders.length ? v.deciders.map(who).join(', ') : 'an admin';
  const decided = v.decisions
    .map((d) => `${d.decision === 'approve' ? '✅ approved' : '❌ rejected'} by ${who(d.by)} <t:${Math.floor(Date.parse(d.at) / 1000)}:t>${d.reason ? `: ${escapeMarkdown(d.reason)}` : ''}`)
    .join('\n');
  const body =
    `Requested by ${who(v.requestedBy)}.\n${v.required} approval(s) from: ${deciders}${v.notRequester ? ' (not the requester)' : ''}. ${v.approved} of ${v.required} so far.` +
    (decided ? `\n\n${decided}` : '') +
    (v.open ? `\n\nExpires <t:${Math.floor(Date.parse(v.expiresAt) / 1000)}:R>` : `\n\nClosed: ${escapeMarkdown(v.closed ?? '')}`);
  const c = v.changes;
  const fields = c
    ? [
        { name: 'What changes', value: clip([v.compareUrl ? `[${escapeMarkdown(c.headline)}](${v.compareUrl})` : escapeMarkdown(c.headline), ...(c.summary ? [escapeMarkdown(c.summary)] : [])].join('\n'), FIELD_MAX), inline: false },
        ...(c.commits.length ? [{ name: 'Commits', value: clip(c.commits.map((l) => `• ${escapeMarkdown(l)}`).join('\n'), FIELD_MAX), inline: false }] : []),
        ...(c.areas ? [{ name: 'Files', value: clip(escapeMarkdown(c.areas), FIELD_MAX), inline: false }] : []),
        ...(c.risks.length ? [{ name: 'Risk notes', value: clip(c.risks.map((r) => `⚠️ ${escapeMarkdown(r)}`).join('\n'), FIELD_MAX), inline: false }] : []),
      ]
    : [];
  return {
    content: '',
    embeds: [
      {
        title: clip(`Approval needed: deploy ${v.repo} to ${v.environment} (${run.ref})`, 256),
        description: clip(`${v.origin ? `*${escapeMarkdown(v.origin)}*\n` : ''}${body}`, DESCRIPTION_MAX),
        url: webUrl,
        color: v.open ? 0xd29922 : (COLOR[run.status] ?? 0x6e7781),
        fields,
        ...(c && { footer: { text: c.footer } }),
      },
    ],
    components: v.open
      ? [
          {
            type: 1,
            components: [
              { type: 2, style: 3, label: 'Approve', custom_id: `${ACTIONS.approve}:${run.ref}` },
              { type: 2, style: 4, label: 'Reject', custom_id: `${ACTIONS.reject}:${run.ref}` },
            ],
          },
        ]
      : [],
    ...quiet,
  };
}

export function outcomeMessage(run: RunSummary, webUrl: string, actions: CardAction[] = []) {
  const o = outcome(run);
  const verification = run.kind === 'deploy' && run.result.verification ? `\n${escapeMarkdown(verificationLines(run.result.verification).join('\n'))}` : '';
  return {
    content: clip(`${TONE_ICON[o.tone]} ${escapeMarkdown(o.text)}${verification}\n<${webUrl}>`, 2000),
    ...(actions.length && { components: [{ type: 1, components: actions.map(button) }] }),
    ...quiet,
  };
}
