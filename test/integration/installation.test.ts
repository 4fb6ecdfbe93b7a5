import { afterAll, describe, expect, it } from 'vitest';
import { consoleRun, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { testPrefix } from '../helpers/tmp.js';
import { getRun } from '../../src/core/runs/store.js';

const STORY = 'story As a shopper I want to save my cart so that I can buy later';
const started: TestApp[] = [];
afterAll(async () => {
  for (const t of started.reverse()) await t.stop();
});

describe('job ids belong to one installation', () => {
  it('a queue prefix reused with a fresh database: the new R-1001 runs, not blocked by the old job', async () => {
    const prefix = testPrefix();
    const first = await startTestApp({ AUTODEVHUB_QUEUE_PREFIX: prefix });
    const a = await consoleRun(first, await first.signIn(), STORY);
    expect(a.run).toMatchObject({ ref: 'R-1001', status: 'succeeded' });
    const firstInstallation = await first.app.db.installationId();
    // Its completed job stays in Redis (kept for a day); its database goes.
    await first.stop({ keepRedis: true });

    const second = await startTestApp({ AUTODEVHUB_QUEUE_PREFIX: prefix });
    started.push(second);
    expect(await second.app.db.installationId()).not.toBe(firstInstallation);
    const b = await consoleRun(second, await second.signIn(), STORY, 15_000);
    expect(b.run).toMatchObject({ ref: 'R-1001', status: 'succeeded' });
  });

  it('intake replaces a job of another run found under the id its run needs', async () => {
    const web = await startTestApp({ AUTODEVHUB_ROLE: 'web' });
    started.push(web);
    const em = web.app.context().em;
    const rows: Array<{ next: number }> = await em.getConnection().execute(`select (case when is_called then last_value + 1 else last_value end)::int as next from workflow_runs_id_seq`);
    const next = rows[0]!.next;
    const jobId = web.app.queues.ids.run(next);
    // Left under that id by something else: a job whose data names another run.
    await web.app.queues.story.add('story', { runId: 424242 }, { jobId });

    const res = await fetch(`${web.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie: await web.signIn(), 'content-type': 'application/json' },
      body: JSON.stringify({ text: STORY }),
    });
    expect(res.status).toBe(202);
    const { run } = (await res.json()) as { run: { id: number } };
    expect(run.id).toBe(next);
    expect((await web.app.queues.story.getJob(jobId))?.data).toMatchObject({ runId: next });

    // A worker joining later finishes the run.
    const worker = await startTestApp({ AUTODEVHUB_ROLE: 'worker' }, {}, web);
    started.push(worker);
    // A worker serves its health route (the container's health check) and nothing else.
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/api/v1/runs`)).status).toBe(404);
    await waitFor(async () => (await getRun(web.app.context().em, run.id)).status === 'succeeded', 15_000, 'the run to finish');
  });

  it('recovery at start replaces a job of another run found under an unfinished run\'s id', async () => {
    const web = await startTestApp({ AUTODEVHUB_ROLE: 'web' });
    started.push(web);
    const res = await fetch(`${web.url}/api/v1/commands`, {
      method: 'POST',
      headers: { cookie: await web.signIn(), 'content-type': 'application/json' },
      body: JSON.stringify({ text: STORY }),
    });
    const { run } = (await res.json()) as { run: { id: number } };
    // The run is stored; under its job id Redis now holds a job naming another run.
    const jobId = web.app.queues.ids.run(run.id);
    await (await web.app.queues.story.getJob(jobId))!.remove();
    // (Delayed, so that no worker takes it before recovery has looked.)
    await web.app.queues.story.add('story', { runId: 424242 }, { jobId, delay: 3_600_000 });

    const worker = await startTestApp({ AUTODEVHUB_ROLE: 'worker' }, {}, web);
    started.push(worker);
    await waitFor(async () => (await getRun(web.app.context().em, run.id)).status === 'succeeded', 15_000, 'the run to finish');
  });
});
