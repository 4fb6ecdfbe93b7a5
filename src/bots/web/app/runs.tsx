import { RUN_KINDS, RUN_STATUSES, type RunEventMessage, type RunSummary } from '../../../core/runs/model.js';
import { readableRunDetail, readableRuns } from '../../../core/access/reads.js';
import { outcome, statusLabel, storyTitle, timeline } from '../../../core/chat/presentation.js';
import { duration, Empty, Layout, Status, When } from './layout.js';
import type { PageCall } from './page.js';

/** The workflow monitor: runs with filters, and each run's page with its timeline, live. */

const SINCE: Record<string, number> = { '24h': 86400_000, '7d': 7 * 86400_000, '30d': 30 * 86400_000 };

export async function runsPage({ ctx, actor, viewer, query }: PageCall) {
  const kind = RUN_KINDS.find((k) => k === query.kind);
  const status = RUN_STATUSES.find((s) => s === query.status);
  const project = ctx.config.projects.find((p) => p.key === query.project)?.key;
  const person = query.person?.trim().slice(0, 200) || undefined;
  const since = query.since && SINCE[query.since] ? new Date(Date.now() - SINCE[query.since]!) : undefined;
  const runs = await readableRuns(ctx, actor, { ...(kind && { kind }), ...(status && { status }), ...(project && { projectKey: project }), ...(person && { requestedBy: person }), ...(since && { since }), limit: 100 });
  const filtered = Boolean(kind || status || project || person || since);
  return (
    <Layout title="Runs" viewer={viewer} active="/runs">
      <form class="filters" method="get" action="/runs" role="search" aria-label="Filter runs">
        <Select name="project" label="Project" value={project} options={ctx.config.projects.map((p) => p.key)} />
        <Select name="kind" label="Kind" value={kind} options={RUN_KINDS} />
        <Select name="status" label="Status" value={status} options={RUN_STATUSES} />
        <label>Person <input name="person" value={person ?? ''} placeholder="slack:U0123" size={14} /></label>
        <Select name="since" label="Time" value={query.since} options={Object.keys(SINCE)} any="any time" />
        <button type="submit">Filter</button>
        {filtered && <a href="/runs">Clear filters</a>}
      </form>
      {runs.length === 0 ? (
        <Empty>
          {filtered ? <p>No run matches these filters. <a href="/runs">Clear the filters</a> to see every run.</p> : <p>No runs yet. Start one from <a href="/">New command</a>, e.g. <code>story As a shopper I want to save my cart</code>.</p>}
        </Empty>
      ) : (
        <RunTable runs={runs} />
      )}
    </Layout>
  );
}

function Select(p: { name: string; label: string; value: string | undefined; options: readonly string[]; any?: string }) {
  return (
    <label>
      {p.label}{' '}
      <select name={p.name}>
        <option value="">{p.any ?? 'all'}</option>
        {p.options.map((o) => <option value={o} selected={o === p.value}>{o.replace('_', ' ')}</option>)}
      </select>
    </label>
  );
}

function RunTable({ runs }: { runs: RunSummary[] }) {
  return (
    <div class="scroll-x" tabindex={0} role="region" aria-label="Runs table">
      <table class="runs">
        <thead><tr><th scope="col">Run</th><th scope="col">Kind</th><th scope="col">Project</th><th scope="col">Status</th><th scope="col">Who</th><th scope="col">Started</th><th scope="col">Took</th></tr></thead>
        <tbody>
          {runs.map((r) => (
            <tr data-ref={r.ref}>
              <td><a href={`/runs/${r.ref}`}>{r.ref}</a></td>
              <td>{r.kind}</td>
              <td>{r.projectKey ?? '—'}</td>
              <td><Status status={r.status} /></td>
              <td>{r.requestedBy}</td>
              <td><When at={r.createdAt} /></td>
              <td>{r.finishedAt ? duration(Date.parse(r.finishedAt) - Date.parse(r.createdAt)) : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Stages in the order they started, each with its start, its duration and what it said. */
export function stagesOf(run: RunSummary, events: RunEventMessage[], now = Date.now()) {
  const stages: Array<{ stage: string; startedAt: string; endedAt: string | null; messages: RunEventMessage[] }> = [];
  for (const e of events) {
    const name = e.stage ?? 'queued';
    const last = stages.at(-1);
    if (last && last.stage === name) last.messages.push(e);
    else {
      if (last) last.endedAt = e.at;
      stages.push({ stage: name, startedAt: e.at, endedAt: null, messages: [e] });
    }
  }
  const last = stages.at(-1);
  if (last) last.endedAt = run.finishedAt ?? null;
  return stages.map((s) => ({ ...s, ms: Date.parse(s.endedAt ?? new Date(now).toISOString()) - Date.parse(s.startedAt) }));
}

export async function runPage({ ctx, actor, viewer, param }: PageCall) {
  const { run, events, story } = await readableRunDetail(ctx, actor, param.ref!);
  return (
    <Layout title={`${run.ref}: ${run.kind}`} viewer={viewer} active="/runs">
      <RunLive run={run} events={events} story={story ? { id: story.id, title: storyTitle(story) } : null} />
    </Layout>
  );
}

export function RunLive({ run, events, story }: { run: RunSummary; events: RunEventMessage[]; story: { id: number; title: string } | null }) {
  const done = run.finishedAt !== null;
  const result = done ? outcome(run) : null;
  return (
    <div id="run-live" data-ref={run.ref} data-run-id={run.id} data-seq={run.lastSeq} data-final={done ? 'true' : 'false'}>
      <p class="summary">
        <Status status={run.status} /> {run.projectKey ? <>in <a href={`/dashboard?project=${encodeURIComponent(run.projectKey)}`}>{run.projectKey}</a></> : 'no project'}, asked by {run.requestedBy} <When at={run.createdAt} />
        {done && <>, took {duration(Date.parse(run.finishedAt!) - Date.parse(run.createdAt))}</>}
      </p>
      <p id="run-outcome" role="status" aria-live="polite" class={result ? `outcome t-${result.tone}` : 'outcome'}>
        {result ? result.text : `${statusLabel(run.status)}${run.status === 'running' ? ` (${run.progress}%)` : ''}: this page updates by itself.`}
      </p>
      <Links run={run} story={story} />
      <h2>Timeline</h2>
      <ol class="stages" aria-label="Stages">
        {timeline(run).map((s) => <li class={`st-${s.state}`}>{s.stage} <span class="sr">({s.state})</span></li>)}
      </ol>
      {events.length === 0 ? (
        <Empty><p>Nothing has happened yet: the run is waiting for a worker.</p></Empty>
      ) : (
        <ol class="timeline">
          {stagesOf(run, events).map((s) => (
            <li>
              <h3>{s.stage} <span class="muted">· <When at={s.startedAt} /> · {duration(s.ms)}{s.endedAt ? '' : ' so far'}</span></h3>
              <ul class="plain">{s.messages.map((m) => <li>{m.message}</li>)}</ul>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function Links({ run, story }: { run: RunSummary; story: { id: number; title: string } | null }) {
  const entries = Object.entries(run.links);
  if (!entries.length && !story && !run.threadRef) return null;
  return (
    <ul class="links">
      {story && <li>Story: <a href={`/stories/${story.id}`}>{story.title}</a></li>}
      {run.threadRef && !run.links.thread && <li>Chat thread: <code>{run.threadRef}</code></li>}
      {entries.map(([k, url]) => <li>{k === 'thread' ? 'Chat thread' : k === 'pullRequest' ? 'Pull request' : k === 'deployment' ? 'Deployment' : k}: <a href={url}>{url}</a></li>)}
      {run.status === 'waiting_approval' && <li><a href="/approvals">Decide on the approvals page</a></li>}
    </ul>
  );
}
