import type { ApprovalState, RunSummary } from '../../core/runs/model.js';
import type { StoryRecord } from '../../core/stories/service.js';
import { cutAtLine } from '../../core/text.js';
import { ACTIONS, approvalView, generatorLabel, headline, needsInputView, outcome, storyTitle, timeline, verificationLines, type CardAction, type storyExportView, type Tone } from '../../core/chat/presentation.js';

/** Adaptive Cards (schema 1.4, Universal Actions): the run, the story, the approval. */
export const VERBS = ACTIONS;
const STATUS_COLOR: Record<string, string> = { succeeded: 'Good', failed: 'Attention', cancelled: 'Attention', waiting_approval: 'Warning', needs_input: 'Warning' };
const TONE_ICON: Record<Tone, string> = { success: '🚀', failure: '❌', cancelled: '🚫', notice: '📝' };

/**
 * User text in a TextBlock: Adaptive Cards render a small Markdown subset (emphasis, lists,
 * links). A link is the one that could mislead, so `[label](url)` is broken with a zero-width
 * space; the text otherwise reads as written.
 */
export function escapeCardText(s: string): string {
  return s.replace(/\]\s*\(/g, ']\u200b(');
}

/** Plain text messages in Teams accept some HTML: user text must not become markup. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function card(body: unknown[], actions: unknown[] = []) {
  return {
    contentType: 'application/vnd.microsoft.card.adaptive',
    content: { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: '1.4', body, ...(actions.length && { actions }) },
  };
}

const text = (t: string, extra: Record<string, unknown> = {}) => ({ type: 'TextBlock', text: t, wrap: true, ...extra });

/** A card button: Action.Execute with the verb and what it acts on (a run reference or a story id). */
function execute(a: CardAction) {
  const data = a.action === ACTIONS.createIssue || a.action === ACTIONS.openPr ? { story: Number(a.value) } : { run: a.value };
  return { type: 'Action.Execute', title: a.label, verb: a.action, data, ...(a.style && { style: a.style === 'danger' ? 'destructive' : 'positive' }) };
}

export function runCard(run: RunSummary, webUrl: string) {
  const stages = timeline(run)
    .map(({ stage, state }) => (state === 'done' ? `✓ ${stage}` : state === 'current' ? `**${stage}**` : state === 'failed' ? `✗ ${stage}` : stage))
    .join(' → ');
  return card(
    [
      text(headline(run), { weight: 'Bolder', color: STATUS_COLOR[run.status] ?? 'Default' }),
      text(escapeCardText(run.input.description.slice(0, 500)), { isSubtle: true }),
      text(stages, { size: 'Small' }),
      ...(run.error ? [text(escapeCardText(run.error), { color: 'Attention' })] : []),
      ...needsInput(run),
      text(`Requested by ${escapeCardText(run.requestedBy)}`, { size: 'Small', isSubtle: true }),
    ],
    [{ type: 'Action.OpenUrl', title: 'Open in AutoDevHub', url: webUrl }],
  );
}

function needsInput(run: RunSummary) {
  const needs = needsInputView(run, '@AutoDevHub');
  if (!needs) return [];
  return [text(`No story yet. ${escapeCardText(needs.missing)}`, { color: 'Warning' }), text(escapeCardText(needs.example), { isSubtle: true }), text(needs.next, { size: 'Small' })];
}

export function storyCard(story: StoryRecord, webUrl: string, runRef: string, extras?: ReturnType<typeof storyExportView>) {
  // Teams limits a message to about 28 KB; the story card keeps well inside it.
  const { text: gherkin } = cutAtLine(story.gherkin, 20_000);
  const actions: unknown[] = webUrl ? [{ type: 'Action.OpenUrl', title: `Open ${runRef}`, url: webUrl }] : [];
  if (story.status === 'draft') {
    actions.unshift(
      { type: 'Action.Execute', title: 'Accept', verb: ACTIONS.accept, data: { story: story.id }, style: 'positive' },
      { type: 'Action.Execute', title: 'Regenerate', verb: ACTIONS.regenerate, data: { story: story.id } },
    );
  }
  actions.push(...(extras?.actions ?? []).map(execute));
  return card(
    [
      text(`User story: ${escapeCardText(storyTitle(story, runRef))}`, { weight: 'Bolder', size: 'Medium' }),
      { type: 'TextBlock', text: escapeCardText(gherkin), wrap: true, fontType: 'Monospace' },
      { type: 'FactSet', facts: [{ title: 'Confidence', value: story.confidenceScore.toFixed(2) }, { title: 'Generator', value: generatorLabel(story) }, { title: 'Version', value: String(story.version) }] },
      ...(story.openQuestions.length ? [text('Open questions', { weight: 'Bolder' }), ...story.openQuestions.map((q) => text(`• ${escapeCardText(q)}`))] : []),
      ...(story.status === 'accepted' ? [text(`Accepted by ${escapeCardText(story.acceptedBy ?? '')}`, { color: 'Good' })] : []),
      ...(extras?.links ?? []).map((l) => text(`[${escapeCardText(l.label)}](${l.url})`)),
    ],
    actions,
  );
}

/** Teams' Universal Actions refresh: each viewer's client asks for their own version of the card. */
export const REFRESH_VERB = 'deploy_approval_refresh';

/** A person's own state on an approval card, from the per-viewer refresh. */
export interface ViewerState {
  decision: { decision: 'approve' | 'reject'; at: string } | null;
  /** They requested the deploy and the policy wants someone else. */
  selfBlocked: boolean;
}

/** Teams shows `{{TIME(…)}}` in the viewer's own time zone; it wants seconds, not milliseconds. */
const localTime = (iso: string) => `{{TIME(${new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z')})}}`;

function viewerLine(v: ViewerState): unknown[] {
  if (v.decision) return [text(`You ${v.decision.decision === 'approve' ? 'approved' : 'rejected'} at ${localTime(v.decision.at)}`, { weight: 'Bolder', color: v.decision.decision === 'approve' ? 'Good' : 'Attention' })];
  if (v.selfBlocked) return [text('You requested this deploy; someone else must approve it.', { weight: 'Bolder', color: 'Warning' })];
  return [];
}

/** The shared approval card; with `viewer`, the version one person sees after the refresh. */
export function approvalCard(run: RunSummary & { kind: 'deploy' }, approvals: ApprovalState, webUrl: string, viewer?: ViewerState) {
  const v = approvalView(run, approvals);
  const details = { type: 'Action.OpenUrl', title: 'Details', url: webUrl };
  const canDecide = v.open && !viewer?.decision;
  const built = card(
    [
      text(escapeCardText(`Approval needed: deploy ${v.repo} to ${v.environment} (${run.ref})`), { weight: 'Bolder' }),
      text(escapeCardText(`Requested by ${v.requestedBy}. ${v.required} approval(s) from ${v.deciders.join(', ') || 'an admin'}${v.notRequester ? ' (not the requester)' : ''}. ${v.approved} of ${v.required} so far.`)),
      ...(viewer ? viewerLine(viewer) : []),
      ...(v.origin ? [text(escapeCardText(v.origin), { isSubtle: true })] : []),
      ...changeBlocks(v),
      ...v.decisions.map((d) => text(escapeCardText(`${d.decision === 'approve' ? '✅ approved' : '❌ rejected'} by ${d.by} at ${d.at}${d.reason ? `: ${d.reason}` : ''}`), { size: 'Small' })),
      text(v.open ? `Expires ${v.expiresAt}` : `Closed: ${escapeCardText(v.closed ?? '')}`, { size: 'Small', isSubtle: true }),
    ],
    canDecide
      ? [
          ...(viewer?.selfBlocked ? [] : [{ type: 'Action.Execute', title: 'Approve', verb: ACTIONS.approve, data: { run: run.ref }, style: 'positive' }]),
          { type: 'Action.Execute', title: 'Reject', verb: ACTIONS.reject, data: { run: run.ref }, style: 'destructive' },
          details,
        ]
      : [details],
  );
  // While the approval is open each viewer's client asks for their own card (Teams refreshes
  // automatically for conversations of up to 60 people; larger ones show a refresh link).
  if (v.open) Object.assign(built.content, { refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: REFRESH_VERB, data: { run: run.ref } } } });
  return built;
}

/** "What changes" on the approval card. */
function changeBlocks(v: ReturnType<typeof approvalView>): unknown[] {
  const c = v.changes;
  if (!c) return [];
  return [
    text(`What changes: ${escapeCardText(c.headline)}`, { weight: 'Bolder', spacing: 'Medium' }),
    ...(c.summary ? [text(escapeCardText(c.summary))] : []),
    ...c.commits.map((l) => text(`• ${escapeCardText(l)}`, { size: 'Small', spacing: 'None' })),
    ...(c.areas ? [text(escapeCardText(c.areas), { size: 'Small' })] : []),
    ...c.risks.map((r) => text(`⚠️ ${escapeCardText(r)}`, { color: 'Warning', size: 'Small' })),
    text(escapeCardText(c.footer), { size: 'Small', isSubtle: true }),
  ];
}

export function outcomeText(run: RunSummary): string {
  const o = outcome(run);
  const checks = run.kind === 'deploy' && run.result.verification ? `<br>${verificationLines(run.result.verification).map(escapeHtml).join('<br>')}` : '';
  return `${TONE_ICON[o.tone]} ${escapeHtml(o.text)}${checks}`;
}

/** A finished deploy with buttons (Promote, Roll back): a card, since plain messages carry no actions. */
export function outcomeCard(run: RunSummary, webUrl: string, actions: CardAction[]) {
  const o = outcome(run);
  const checks = run.kind === 'deploy' && run.result.verification ? verificationLines(run.result.verification) : [];
  return card(
    [text(`${TONE_ICON[o.tone]} ${escapeCardText(o.text)}`, { weight: 'Bolder' }), ...checks.map((l) => text(escapeCardText(l), { size: 'Small' }))],
    [...actions.map(execute), { type: 'Action.OpenUrl', title: 'Details', url: webUrl }],
  );
}
