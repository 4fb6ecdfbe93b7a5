import { DelayedError, Worker, type Job, type Telemetry } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { advanceDeploy, expireApproval } from '../../core/deploys/service.js';
import { handleRunJobError } from '../run-failures.js';
import { inJobContext, QUEUE_NAMES, type RunJob } from '../queues.js';

export interface DeployJob extends RunJob {
  /** How many times this job has waited (checks pending, deployment in progress). */
  pollAttempt?: number;
}

/**
 * Runs a deploy from where it stands until it must wait. Waiting for checks or for GitHub's
 * deployment status moves this job to the delayed set (no worker slot held, the wait survives
 * restarts); waiting for people ends the job and schedules the expiry check.
 */
export async function processDeployJob(job: Job<DeployJob>, token: string | undefined, ctx: CoreContext): Promise<string> {
  const { runId } = job.data;
  if (job.name === 'expire') return (await expireApproval({ ctx, runId })) ? 'expired' : 'already decided';
  try {
    for (let i = 0; i < 10; i++) {
      const next = await advanceDeploy({ ctx, runId, attempt: job.data.pollAttempt ?? 0 });
      if (next.next === 'continue') continue;
      if (next.next === 'poll') {
        await job.updateData({ ...job.data, pollAttempt: (job.data.pollAttempt ?? 0) + 1 });
        await job.moveToDelayed(Date.now() + next.delayMs, token);
        throw new DelayedError();
      }
      if (next.next === 'wait_approval') {
        await ctx.scheduler.enqueueRunPhase({ id: runId, kind: 'deploy' }, 'expire', next.timeoutMs);
        return 'waiting for approval';
      }
      return 'done';
    }
    throw new Error('deploy did not settle in 10 steps');
  } catch (err) {
    if (err instanceof DelayedError) throw err;
    await handleRunJobError(job, ctx, runId, err);
    return 'run finished';
  }
}

export function createDeployWorker(opts: { connection: Redis; prefix: string; concurrency: number; context: () => CoreContext; telemetry?: Telemetry | undefined }): Worker<DeployJob> {
  return new Worker<DeployJob>(QUEUE_NAMES.deploy, (job, token) => {
    const ctx = opts.context();
    return inJobContext(job, ctx.logger, () => processDeployJob(job, token, ctx));
  }, {
    connection: opts.connection,
    prefix: opts.prefix,
    ...(opts.telemetry && { telemetry: opts.telemetry }),
    concurrency: opts.concurrency,
  });
}
