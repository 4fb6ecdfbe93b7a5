import type { CoreContext } from '../context.js';
import type { EnvironmentPolicy, ProjectConfig } from '../config.js';
import { PermanentFailure } from '../errors.js';

export function projectFor(ctx: Pick<CoreContext, 'config'>, key: string | null): ProjectConfig | undefined {
  return ctx.config.projects.find((p) => p.key === key);
}

/**
 * The environment's policy for a run. A rollback follows the environment's `rollback` policy
 * where it sets one (fewer approvers, say, so a bad release comes out fast), else the
 * environment's own.
 */
export function policyFor(project: ProjectConfig, environment: string, run?: { input: { trigger?: string | undefined } }): EnvironmentPolicy {
  const policy = project.environments[environment];
  if (!policy) throw new PermanentFailure(`Project ${project.key} has no environment "${environment}".`);
  const trigger = run?.input.trigger;
  if (!policy.rollback || (trigger !== 'rollback' && trigger !== 'auto_rollback')) return policy;
  const r = policy.rollback;
  return {
    ...policy,
    ...(r.required_approvals !== undefined && { required_approvals: r.required_approvals }),
    ...(r.approvers && { approvers: r.approvers }),
    ...(r.prevent_self_approval !== undefined && { prevent_self_approval: r.prevent_self_approval }),
    ...(r.timeout !== undefined && { timeout: r.timeout }),
  };
}

/** The environment after `environment` in the project's promotion pipeline, if any. */
export function nextEnvironment(project: ProjectConfig | undefined, environment: string): string | undefined {
  if (!project) return undefined;
  const i = project.promotion.indexOf(environment);
  return i === -1 ? undefined : project.promotion[i + 1];
}
