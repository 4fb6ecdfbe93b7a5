import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CoreContext } from '../../core/context.js';
import { deliverWebhook, notifyRun, type DeliveryOutcome } from '../../core/notify/service.js';
import { QUEUE_NAMES, type NotifyJob, type WebhookJob } from '../queues.js';

/** A run's notifications (webhook deliveries made, emails sent); retried with backoff when mail fails. */
export async function processNotifyJob(job: Job<NotifyJob>, ctx: CoreContext): Promise<{ deliveries: number; emails: number }> {
  const done = await notifyRun(ctx, job.data.runId);
  return { deliveries: done.deliveries.length, emails: done.emails };
}

/** One attempt at a webhook delivery; a thrown error is BullMQ's cue to retry with backoff. */
export async function processWebhookJob(job: Job<WebhookJob>, ctx: CoreContext): Promise<DeliveryOutcome> {
  const attempts = job.opts.attempts ?? 1;
  return deliverWebhook(ctx, job.data.deliveryId, { number: job.attemptsMade + 1, last: job.attemptsMade + 1 >= attempts });
}

export function createNotifyWorkers(opts: { connection: Redis; prefix: string; concurrency: number; context: () => CoreContext }): Worker[] {
  const common = { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency };
  return [
    new Worker<NotifyJob>(QUEUE_NAMES.notify, (job) => processNotifyJob(job, opts.context()), common),
    new Worker<WebhookJob>(QUEUE_NAMES.webhook, (job) => processWebhookJob(job, opts.context()), common),
  ];
}
