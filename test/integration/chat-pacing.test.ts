import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { findRunByRef } from '../../src/core/runs/queries.js';

/**
 * Slack allows about one message per second per channel. A burst of runs in one channel is
 * rendered one at a time (a booked slot each), every run ends showing its final state, and no
 * second ever carries more than one render into the channel, measured at the fake Slack API.
 */

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl });
});
afterAll(async () => {
  await t?.stop();
  await slack?.close();
});

describe('Slack pacing per channel', () => {
  it('renders a burst of 8 runs in one channel at most once a second (1.1 s slots), each ending on its final state', async () => {
    const acks = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        postToSlack(t.url, slashCommandBody({ text: `story As an analyst I want to export sales report ${i} as CSV so that I can share it with finance`, user_id: `UB${i}`, channel_id: 'CBUSY', trigger_id: `burst-${i}` })).then(async (r) => /R-\d+/.exec(((await r.json()) as { text: string }).text)![0]),
      ),
    );
    // Meanwhile another channel is not held up by the busy one.
    const quiet = /R-\d+/.exec(((await (await postToSlack(t.url, slashCommandBody({ text: 'story As an analyst I want to export the quiet report as CSV so that I can share it with finance', user_id: 'UQ', channel_id: 'CQUIET', trigger_id: 'quiet-1' }))).json()) as { text: string }).text)![0];
    await waitFor(async () => {
      const r = await findRunByRef(t.app.context().em, quiet);
      return r?.status === 'succeeded' && r.chatSeq === r.lastSeq;
    }, 15_000, 'the quiet channel');

    await waitFor(async () => {
      const runs = await Promise.all(acks.map((ref) => findRunByRef(t.app.context().em, ref)));
      return runs.every((r) => r?.status === 'succeeded' && r.chatSeq === r.lastSeq);
    }, 60_000, 'every run to show its final state');
    const calls = slack.requests.filter((r) => /chat\.(postMessage|update)/.test(r.path) && new URLSearchParams(r.body).get('channel') === 'CBUSY');
    // A render is the run message (posted or edited), and the story in its thread when it is done.
    const renders = calls.filter((r) => !new URLSearchParams(r.body).get('thread_ts'));
    const at = renders.map((r) => r.at);
    const gaps = at.slice(1).map((x, i) => x - at[i]!);
    expect(renders.length).toBeGreaterThanOrEqual(8);
    // Renders start a slot apart; what reaches Slack jitters by the render's own latency (more on
    // a loaded machine), which Slack's "short bursts" allow: one a second on average, never a burst.
    const busiestSecond = Math.max(...at.map((x) => at.filter((y) => y >= x && y < x + 1000).length));
    expect(busiestSecond, `gaps between renders: ${gaps.join(', ')} ms`).toBeLessThanOrEqual(3);
    expect((at.at(-1)! - at[0]!) / (at.length - 1), `gaps between renders: ${gaps.join(', ')} ms`).toBeGreaterThanOrEqual(1000);
    // Coalesced: fewer renders than the events the runs went through.
    const events = (await Promise.all(acks.map((ref) => findRunByRef(t.app.context().em, ref)))).reduce((n, r) => n + r!.lastSeq, 0);
    expect(renders.length).toBeLessThan(events);
    for (const ref of acks) {
      const r = (await findRunByRef(t.app.context().em, ref))!;
      const ts = r.threadRef!.split(':')[2];
      const last = [...slack.calls].reverse().find((c) => (c.method === 'chat.update' && c.args.ts === ts) || (c.method === 'chat.postMessage' && c.ts === ts));
      expect(String(last!.args.text), ref).toContain('succeeded');
    }
  }, 90_000);
});
