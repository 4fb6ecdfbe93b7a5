import { authorize } from '../../../core/access/authorize.js';
import { roleGrants } from '../../../core/access/grants.js';
import { peopleList } from '../../../core/access/people.js';
import { listApiTokens } from '../../../core/access/api-tokens.js';
import { listWidgetTokens } from '../../../core/access/widget-tokens.js';
import { projectChannels } from '../../../core/projects/service.js';
import type { ProjectConfig } from '../../../core/config.js';
import { Empty, Layout, NoProjects, When } from './layout.js';
import type { PageCall } from './page.js';

/**
 * Settings (admins): what the config file loaded and what was changed at run time. Changes are
 * made with the forms on New command (tokens, people, roles) or the API; this page shows it all.
 */

export async function settingsPage({ ctx, actor, viewer }: PageCall) {
  await authorize(ctx, actor, 'roles.read');
  const [grants, people, apiTokens, widgetTokens, channels] = await Promise.all([
    roleGrants({ ctx, actor }),
    peopleList({ ctx, actor }),
    listApiTokens({ ctx, actor }, { all: true }),
    listWidgetTokens({ ctx, actor }),
    Promise.all(ctx.config.projects.map(async (p) => [p.key, await projectChannels(ctx.em, p.key)] as const)),
  ]);
  return (
    <Layout title="Settings" viewer={viewer} active="/settings">
      <p>What <code>autodevhub.yaml</code> loaded, and what was changed since at run time. Make tokens, link identities and grant roles on <a href="/">New command</a> (the sections under the feed) or through <a href="/api/docs">the API</a>.</p>
      <Section id="projects" title="Projects and environments (from the config file)">
        {ctx.config.projects.length === 0 ? <NoProjects /> : <Projects projects={ctx.config.projects} />}
      </Section>
      <Section id="channels" title="Channel links">
        <Table head={['Project', 'Channels']} rows={channels.map(([key, list]) => [key, list.join(', ') || 'none: link one with "link owner/repo" in the channel'])} empty="No projects." />
      </Section>
      <Section id="people" title="People and their identities">
        <Table head={['Person', 'Identities', 'Since']} rows={people.map((p) => [p.displayName ?? `user:${p.id}`, p.identities.join(', '), <When at={p.createdAt} />])} empty="No people yet: they appear when someone signs in or is listed under access.people." />
      </Section>
      <Section id="roles" title="Roles">
        <Table head={['Who', 'Project', 'Role', 'Where it comes from']} rows={[...grants.file.map((g) => [g.principal, g.projectKey, g.role, 'config file']), ...grants.runtime.map((g) => [g.principal, g.projectKey, g.role, <>granted at run time by {g.createdBy} <Remove path={`/api/v1/roles/grants/${g.id}`} label={`Remove ${g.role} of ${g.principal}`} text="Remove" /></>])]} empty="No roles granted: only admins can act. Grant roles on New command or with POST /api/v1/roles." />
      </Section>
      <Section id="api-tokens" title="API tokens">
        <Table head={['Name', 'Owner', 'Scopes', 'Expires', 'State']} rows={apiTokens.map((t) => [t.name, t.owner, t.scopes.join(', '), <When at={t.expiresAt} />, t.revokedAt ? 'revoked' : <Remove path={`/api/v1/tokens/${t.id}`} label={`Revoke the API token ${t.name}`} text="Revoke" />])} empty="No API tokens. Make one on New command (API tokens)." />
      </Section>
      <Section id="widget-tokens" title="Widget tokens">
        <Table head={['Project', 'Made by', 'Expires', 'State']} rows={widgetTokens.map((t) => [t.projectKey, t.createdBy, <When at={t.expiresAt} />, t.revokedAt ? 'revoked' : <Remove path={`/api/v1/widget-tokens/${t.id}`} label={`Revoke the widget token of ${t.projectKey}`} text="Revoke" />])} empty="No widget tokens. Make one on New command (Embed the live feed)." />
      </Section>
    </Layout>
  );
}

/** A removal through the API (the same verb the console and scripts use); the page reloads after it. */
function Remove(p: { path: string; label: string; text: string }) {
  return (
    <span class="actions">
      active <button type="button" class="secondary" data-post={p.path} data-method="DELETE" aria-label={p.label}>{p.text}</button>
      <span class="action-result" role="status"></span>
    </span>
  );
}

function Section(p: { id: string; title: string; children: unknown }) {
  return (
    <section aria-labelledby={`h-${p.id}`}>
      <h2 id={`h-${p.id}`}>{p.title}</h2>
      {p.children as never}
    </section>
  );
}

function Table(p: { head: string[]; rows: unknown[][]; empty: string }) {
  if (p.rows.length === 0) return <Empty><p>{p.empty}</p></Empty>;
  return (
    <div class="scroll-x" tabindex={0} role="region" aria-label={p.head.join(', ')}>
      <table>
        <thead><tr>{p.head.map((h) => <th scope="col">{h}</th>)}</tr></thead>
        <tbody>{p.rows.map((r) => <tr>{r.map((c) => <td>{c as never}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

function Projects({ projects }: { projects: ProjectConfig[] }) {
  return (
    <Table
      head={['Project', 'Repository', 'Environment', 'Approvals', 'Least role']}
      rows={projects.flatMap((p) => {
        const envs = Object.entries(p.environments);
        if (envs.length === 0) return [[p.key, p.repo ?? '—', 'none', '—', '—']];
        return envs.map(([name, e]) => [p.key, p.repo ?? '—', name, `${e.required_approvals}${e.approvers.length ? ` of ${e.approvers.join(', ')}` : ''}${e.prevent_self_approval ? ', not the requester' : ''}`, e.min_role]);
      })}
      empty="No projects."
    />
  );
}
