import type { CoreContext } from '../context.js';
import type { EnvironmentPolicy } from '../config.js';

/** Who decides on a deploy waiting in this environment: its approvers, or (none listed) the admins. */
export function decidersOf(ctx: Pick<CoreContext, 'config'>, policy: EnvironmentPolicy | undefined): string[] {
  return policy?.approvers.length ? policy.approvers : ctx.config.admins;
}
