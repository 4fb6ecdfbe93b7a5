import type { DeployRun, RunSummary } from './model.js';

/** Which job a run needs to move on: its first job, a later phase, or a delayed check. */
export interface NeededJob {
  /** The job's name; `phase` is set for a later phase of the run (its job id says so). */
  name: string;
  phase?: string;
  delayMs?: number;
}

/**
 * A queued or running run needs its first job. A deploy waiting for people needs its expiry
 * check at the deadline; a deploy past its approval needs its deploy phase.
 */
export function neededJob(run: RunSummary, approvalTimeoutMs: (run: DeployRun) => number | undefined): NeededJob | undefined {
  if (run.kind === 'deploy') {
    if (run.status === 'waiting_approval') {
      const requested = run.result.approvalRequestedAt ? Date.parse(run.result.approvalRequestedAt) : Date.now();
      const deadline = requested + (approvalTimeoutMs(run) ?? 3_600_000);
      return { name: 'expire', phase: 'expire', delayMs: Math.max(0, deadline - Date.now()) };
    }
    if (run.stage === 'deploy' || run.stage === 'verify') return { name: 'deploy', phase: 'deploy' };
  }
  if (run.status === 'queued' || run.status === 'running') return { name: run.kind };
  return undefined;
}
