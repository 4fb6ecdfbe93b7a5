import type { RunSummary } from '../../../core/runs/model.js';
import { RUN_KINDS } from '../../../core/runs/model.js';
import { decidableApprovals, liveDeployments, readableRuns, type LiveDeployment } from '../../../core/access/reads.js';
import { Empty, Layout, NoProjects, Status, When } from './layout.js';
import type { PageCall } from './page.js';
import { projectEnvironments, type EnvironmentState } from '../../../core/safety/verbs.js';
import { SafetyCell } from './environment-safety.js';

/** The project dashboard: the week's runs, what is live where, what waits, docs pull requests. */

const OUTCOMES = ['succeeded', 'failed', 'cancelled', 'open'] as const;
const outcomeOf = (r: RunSummary) => (r.status === 'succeeded' || r.status === 'failed' || r.status === 'cancelled' ? r.status : 'open');

export async function dashboardPage({ ctx, actor, viewer, query }: PageCall) {
  const projects = ctx.config.projects.map((p) => p.key);
  if (projects.length === 0) {
    return (
      <Layout title="Dashboard" viewer={viewer} active="/dashboard">
        <NoProjects />
      </Layout>
    );
  }
  const key = projects.includes(query.project ?? '') ? query.project! : projects[0]!;
  const since = new Date(Date.now() - 7 * 86400_000);
  const [week, live, waiting, safety] = await Promise.all([
    readableRuns(ctx, actor, { projectKey: key, since, limit: 200 }),
    liveDeployments(ctx, actor, key),
    decidableApprovals(ctx, actor),
    // Locks, freezes and the queue, for readers of the project (others see the table without them).
    projectEnvironments({ ctx, actor }, key).catch((): EnvironmentState[] => []),
  ]);
  const environments = [...new Set([...Object.keys(ctx.config.projects.find((p) => p.key === key)!.environments), ...live.map((d) => d.environment)])];
  return (
    <Layout title={`Dashboard: ${key}`} viewer={viewer} active="/dashboard">
      <nav aria-label="Projects" class="tabs">
        {projects.map((p) => (
          <a href={`/dashboard?project=${encodeURIComponent(p)}`} aria-current={p === key ? 'page' : undefined}>{p}</a>
        ))}
      </nav>
      <div class="grid">
        <section aria-labelledby="week">
          <h2 id="week">Runs in the last 7 days</h2>
          <WeekChart runs={week} />
          <p><a href={`/runs?project=${encodeURIComponent(key)}&since=7d`}>See these runs</a></p>
        </section>
        <section aria-labelledby="live">
          <h2 id="live">What is live where</h2>
          <LiveTable environments={environments} live={live} safety={safety} />
        </section>
        <section aria-labelledby="waiting">
          <h2 id="waiting">Waiting for approval</h2>
          <Waiting runs={waiting.filter((r) => r.projectKey === key)} />
        </section>
        <section aria-labelledby="docs">
          <h2 id="docs">Docs pull requests</h2>
          <DocsPrs runs={week.filter((r) => r.kind === 'docs' && r.links.pullRequest)} />
        </section>
      </div>
    </Layout>
  );
}

function WeekChart({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <Empty><p>No runs this week. Start one from <a href="/">New command</a>, e.g. <code>story As a shopper I want…</code>.</p></Empty>;
  const counts = RUN_KINDS.map((kind) => ({ kind, by: OUTCOMES.map((o) => runs.filter((r) => r.kind === kind && outcomeOf(r) === o).length) }));
  const max = Math.max(1, ...counts.map((c) => c.by.reduce((a, b) => a + b, 0)));
  return (
    <div class="scroll-x" tabindex={0} role="region" aria-label="Runs by kind and outcome">
      <table class="chart">
        <caption class="sr">Runs by kind and outcome</caption>
        <thead>
          <tr><th scope="col">Kind</th>{OUTCOMES.map((o) => <th scope="col">{o}</th>)}<th scope="col"><span class="sr">Chart</span></th></tr>
        </thead>
        <tbody>
          {counts.map((c) => (
            <tr>
              <th scope="row">{c.kind}</th>
              {c.by.map((n) => <td class="num">{n}</td>)}
              <td class="bars" aria-hidden="true">
                {c.by.map((n, i) => (n ? <span class={`bar o-${OUTCOMES[i]} w-${Math.max(1, Math.round((n / max) * 10))}`}></span> : null))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function LiveTable({ environments, live, safety }: { environments: string[]; live: LiveDeployment[]; safety: EnvironmentState[] }) {
  if (environments.length === 0) return <Empty><p>No environments configured for this project. Add <code>environments:</code> under it in <code>autodevhub.yaml</code>.</p></Empty>;
  return (
    <div class="scroll-x" tabindex={0} role="region" aria-label="What is live where">
      <table>
        <thead><tr><th scope="col">Environment</th><th scope="col">Commit</th><th scope="col">Who</th><th scope="col">When</th><th scope="col">Lock, freeze, queue</th></tr></thead>
        <tbody>
          {environments.map((env) => {
            const d = live.find((x) => x.environment === env);
            return d ? (
              <tr>
                <th scope="row">{env}</th>
                <td><a href={`/runs/${d.runRef}`}><code>{d.sha.slice(0, 7)}</code></a> <Status status={d.state} /></td>
                <td>{d.requestedBy}</td>
                <td><When at={d.createdAt} /></td>
                <SafetyCell state={safety.find((s) => s.environment === env)} />
              </tr>
            ) : (
              <tr><th scope="row">{env}</th><td colspan={3}>Nothing deployed yet: <code>deploy {env}</code> from <a href="/">New command</a>.</td><SafetyCell state={safety.find((s) => s.environment === env)} /></tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Waiting({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <Empty><p>Nothing waits for you here.</p></Empty>;
  return (
    <ul class="plain">
      {runs.map((r) => (
        <li><a href="/approvals">{r.ref}</a> {r.kind === 'deploy' ? `to ${r.input.environment}` : ''} by {r.requestedBy}, waiting since <When at={r.updatedAt} /></li>
      ))}
    </ul>
  );
}

function DocsPrs({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <Empty><p>No docs pull requests this week. They open when a push changes code (<code>docs</code> on New command starts one).</p></Empty>;
  return (
    <ul class="plain">
      {runs.map((r) => (
        <li><a href={r.links.pullRequest}>{r.links.pullRequest}</a> from <a href={`/runs/${r.ref}`}>{r.ref}</a>, <When at={r.createdAt} /></li>
      ))}
    </ul>
  );
}
