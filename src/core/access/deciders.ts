import type { CoreContext } from '../context.js';
import type { EnvironmentPolicy } from '../config.js';

/** Who decides on a deploy waiting in this environment: its approvers, or (none listed) the admins. */
export function decidersOf(ctx: Pick<CoreContext, 'config'>, policy: EnvironmentPolicy | undefined): string[] {
  return policy?.approvers.length ? policy.approvers : ctx.config.admins;
}

/**
 * The handles behind a list of principals as autodevhub.yaml writes them: a handle stays itself,
 * a person's name (`people:`) becomes their identities, `group:<name>` its members (groups of
 * groups included), "*" nothing. For reaching the people an approval waits on (email).
 */
export function handlesOf(ctx: Pick<CoreContext, 'config'>, principals: string[]): Array<{ name: string | undefined; handle: string }> {
  const { people, groups } = ctx.config.access;
  const out = new Map<string, string | undefined>();
  const seen = new Set<string>();
  const visit = (p: string, name: string | undefined) => {
    if (p === '*' || seen.has(p)) return;
    seen.add(p);
    if (p.startsWith('group:')) {
      for (const m of groups[p.slice(6)]?.members ?? []) visit(m, undefined);
    } else if (people[p]) {
      for (const h of people[p].identities) if (!out.has(h)) out.set(h, p);
    } else if (!out.has(p)) {
      out.set(p, name);
    }
  };
  for (const p of principals) visit(p, undefined);
  return [...out].map(([handle, name]) => ({ handle, name }));
}
