import { decidableApprovals } from '../../../core/access/reads.js';
import { approvalView, type ApprovalView } from '../../../core/chat/presentation.js';
import type { RunSummary } from '../../../core/runs/model.js';
import { Empty, Layout, When } from './layout.js';
import type { PageCall } from './page.js';

/**
 * What waits for me: the approval card's content, with approve and reject. The buttons call the
 * same verb as chat (POST /api/v1/runs/:ref/approve → decideApproval → authorize), so four-eyes,
 * N-of-M and roles hold here exactly as there; a refusal is shown in its own words.
 */

export async function approvalsPage({ ctx, actor, viewer }: PageCall) {
  const runs = (await decidableApprovals(ctx, actor)).filter((r): r is RunSummary & { kind: 'deploy' } => r.kind === 'deploy');
  return (
    <Layout title="Approvals" viewer={viewer} active="/approvals">
      {runs.length === 0 ? (
        <Empty>
          <p><strong>Nothing waits for your approval.</strong> Deploys to environments that need approval (<code>required_approvals</code> in <code>autodevhub.yaml</code>) appear here, and in chat, when someone asks for one.</p>
        </Empty>
      ) : (
        <ul class="cards">{runs.map((r) => (r.result.approvals ? <ApprovalCard run={r} view={approvalView(r, r.result.approvals)} /> : null))}</ul>
      )}
    </Layout>
  );
}

function ApprovalCard({ run, view }: { run: RunSummary & { kind: 'deploy' }; view: ApprovalView }) {
  const sha = String(run.result.sha ?? run.input.ref ?? '');
  return (
    <li class="card approval" data-ref={run.ref}>
      <h2><a href={`/runs/${run.ref}`}>{run.ref}</a>: deploy {view.repo} to {view.environment}</h2>
      <p>
        Asked by <strong>{view.requestedBy}</strong>, waiting since <When at={run.result.approvalRequestedAt ?? run.updatedAt} />; expires <When at={view.expiresAt} />.
      </p>
      <p>
        Commit <code>{sha.slice(0, 12) || '—'}</code>. {view.approved} of {view.required} approval{view.required === 1 ? '' : 's'} so far
        {view.deciders.length ? `; who may decide: ${view.deciders.join(', ')}` : '; maintainers of the project or an admin decide'}.
      </p>
      {view.notRequester && <p class="note">Four-eyes: the person who asked for this deploy cannot approve it.</p>}
      {view.origin && <p>{view.origin}</p>}
      {view.decisions.length > 0 && (
        <ul class="plain">{view.decisions.map((d) => <li>{d.decision === 'approve' ? 'Approved' : 'Rejected'} by {d.by}</li>)}</ul>
      )}
      {view.changes && (
        <details>
          <summary>{view.changes.headline}</summary>
          {view.changes.summary && <p>{view.changes.summary}</p>}
          <ul>{view.changes.commits.map((c) => <li>{c}</li>)}</ul>
          {view.changes.risks.length > 0 && <ul class="risks">{view.changes.risks.map((r) => <li>⚠ {r}</li>)}</ul>}
          {view.compareUrl && <p><a href={view.compareUrl}>Compare on GitHub</a></p>}
        </details>
      )}
      <form class="decide" data-ref={run.ref}>
        <label>Reason (optional) <input name="reason" maxlength={500} /></label>
        <button type="submit" name="decision" value="approve">Approve</button>
        <button type="submit" name="decision" value="reject" class="danger">Reject</button>
        <p class="action-result" role="alert"></p>
      </form>
    </li>
  );
}
