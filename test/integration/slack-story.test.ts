import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFeed, startTestApp, waitFor, writeProjectsConfig, type TestApp } from '../helpers/app.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { fixture, interactionBody, postToSlack, slashCommandBody, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET } from '../helpers/slack.js';
import { checkGherkin } from '../../src/core/ai/gherkin.js';

let t: TestApp;
let slack: Awaited<ReturnType<typeof startFakeSlack>>;

async function count(table: string): Promise<number> {
  const rows: Array<{ n: string }> = await t.app.db.orm.em.fork().getConnection().execute(`select count(*) as n from ${table}`);
  return Number(rows[0]!.n);
}

async function storyJobs(): Promise<number> {
  const counts = await t.app.queues.story.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** The Gherkin inside the code block of a story message. */
function gherkinOf(blocks: Array<{ type: string; text?: { text: string } }>): string {
  const section = blocks.find((b) => b.type === 'section' && b.text?.text.startsWith('```'))!;
  return section.text!.text.replace(/^```\n/, '').replace(/\n```$/, '').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&');
}

beforeAll(async () => {
  slack = await startFakeSlack({ token: SLACK_BOT_TOKEN });
  t = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl });
});
afterAll(async () => {
  await t?.stop();
  await slack?.close();
});

describe('Slack: /autodevhub story end to end', () => {
  it('acknowledges a signed slash command, then follows the run in the channel and posts the story in its thread', async () => {
    const cookie = await t.signIn();
    const feed = await connectFeed(t.url, cookie);
    const subscribed = await feed.socket.emitWithAck('subscribe', { project: '*' });
    expect(subscribed.ok).toBe(true);

    const res = await postToSlack(t.url, slashCommandBody({ trigger_id: 'trigger-e2e-1' }));
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { text: string; response_type: string };
    expect(ack.text).toMatch(/^Queued R-\d+/);
    const ref = /R-\d+/.exec(ack.text)![0];

    // The story arrives in the thread of the run message.
    const storyPost = await waitFor(
      () => slack.callsOf('chat.postMessage').find((c) => typeof c.args.thread_ts === 'string' && String(c.args.text).startsWith('User story')),
      15_000,
      'the story in the thread',
    );
    const runMessage = slack.callsOf('chat.postMessage').find((c) => !c.args.thread_ts)!;
    expect(runMessage.args.channel).toBe('C2147483705');
    expect(String(runMessage.args.text)).toContain(ref);
    const runTs = runMessage.ts;
    expect(storyPost.args.thread_ts).toBe(runTs);
    expect(storyPost.token).toBe(SLACK_BOT_TOKEN);

    // The run message ends on "succeeded": posted so when the run finished within its first
    // second (progress waits that long), else edited in place as stages progress.
    await waitFor(() => [runMessage, ...slack.callsOf('chat.update')].some((c) => String(c.args.text).includes('succeeded')), 10_000, 'final state');
    expect(slack.callsOf('chat.update').every((c) => c.args.ts === runTs)).toBe(true);

    // Block Kit: Gherkin in a code block that parses, the score, the generator, two buttons.
    const blocks = storyPost.args.blocks as Array<{ type: string; text?: { text: string }; elements?: Array<{ action_id?: string; text?: unknown }> }>;
    const parsed = checkGherkin(gherkinOf(blocks));
    expect(parsed.ok).toBe(true);
    const facts = blocks.filter((b) => b.type === 'context').map((b) => JSON.stringify(b)).join(' ');
    expect(facts).toMatch(/Confidence\* 0\.\d\d/);
    expect(facts).toContain('offline generator');
    const actions = blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements!.map((e) => e.action_id)).toEqual(['story_accept', 'story_regenerate']);

    // Stored: a user_stories row with provider, score and latency.
    const rows: Array<Record<string, unknown>> = await t.app.db.orm.em
      .fork()
      .getConnection()
      .execute(`select s.* from user_stories s join workflow_runs r on r.id = s.run_id where r.number = ?`, [Number(ref.slice(2))]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.provider).toBe('offline');
    expect(Number(rows[0]!.confidence_score)).toBeGreaterThan(0.5);
    expect(checkGherkin(String(rows[0]!.gherkin)).ok).toBe(true);

    // Socket.IO: the run's events, in order, gap-free from 1, ending succeeded.
    const mine = await waitFor(() => {
      const e = feed.events.filter((x) => x.ref === ref);
      return e.at(-1)?.status === 'succeeded' ? e : undefined;
    }, 10_000, 'succeeded event');
    expect(mine.map((e) => e.seq)).toEqual(mine.map((_, i) => i + 1));
    expect(mine.map((e) => e.stage)).toEqual(['queued', 'generate', 'validate', 'store', 'done']);
    expect(mine.at(-1)!.data!.gherkin).toBe(rows[0]!.gherkin);
    feed.socket.close();
  });

  it('answers url_verification with the challenge', async () => {
    const body = JSON.stringify(fixture('url-verification.json'));
    const res = await postToSlack(t.url, body, { contentType: 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: fixture<{ challenge: string }>('url-verification.json').challenge });
  });

  it.each([
    ['a wrong signature', { secret: 'not-the-signing-secret' }],
    ['a stale timestamp (6 minutes old)', { skewSeconds: -360 }],
    ['a timestamp from the future (6 minutes ahead)', { skewSeconds: 360 }],
  ])('refuses %s with 401 and enqueues nothing', async (_name, { skewSeconds, ...opts }: { secret?: string; skewSeconds?: number }) => {
    const [runsBefore, jobsBefore] = [await count('workflow_runs'), await storyJobs()];
    // The clock is read when the request is sent, not when the file was loaded (minutes earlier
    // on a busy machine, which would bring "6 minutes ahead" back into the window).
    const timestamp = skewSeconds === undefined ? undefined : Math.floor(Date.now() / 1000) + skewSeconds;
    const res = await postToSlack(t.url, slashCommandBody({ trigger_id: `bad-${Math.random()}` }), { ...opts, ...(timestamp !== undefined && { timestamp }) });
    expect(res.status).toBe(401);
    expect(await count('workflow_runs')).toBe(runsBefore);
    expect(await storyJobs()).toBe(jobsBefore);
  });

  it('refuses an unsigned request with 401', async () => {
    const res = await fetch(`${t.url}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: slashCommandBody() });
    expect(res.status).toBe(401);
  });

  it('answers a malformed body with 400 and an oversized one with 413', async () => {
    const bad = await postToSlack(t.url, '{not json', { contentType: 'application/json' });
    expect(bad.status).toBe(400);
    const big = await postToSlack(t.url, `text=${'x'.repeat(1024 * 1024 + 10)}`);
    expect(big.status).toBe(413);
  });

  it('makes one run and one job for a repeated delivery, also after a restart', async () => {
    const body = slashCommandBody({ trigger_id: 'trigger-dup-1', text: 'story As an editor I want to archive old drafts' });
    const [runsBefore, jobsBefore] = [await count('workflow_runs'), await storyJobs()];
    const first = (await (await postToSlack(t.url, body)).json()) as { text: string };
    const second = (await (await postToSlack(t.url, body, { headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } })).json()) as { text: string };
    expect(/R-\d+/.exec(second.text)![0]).toBe(/R-\d+/.exec(first.text)![0]);
    expect(await count('workflow_runs')).toBe(runsBefore + 1);
    expect(await storyJobs()).toBe(jobsBefore + 1);

    await t.restart();
    const third = (await (await postToSlack(t.url, body)).json()) as { text: string };
    expect(/R-\d+/.exec(third.text)![0]).toBe(/R-\d+/.exec(first.text)![0]);
    expect(await count('workflow_runs')).toBe(runsBefore + 1);
  });

  it.each([
    ['help', 'help', /AutoDevHub commands:[\s\S]*\/autodevhub story <feature description>/],
    ['help story', 'help story', /Usage: \/autodevhub story <feature description>/],
    ['an unknown verb', 'frobnicate now', /Unknown command "frobnicate"[\s\S]*AutoDevHub commands:/],
    ['an empty description', 'story', /Describe the feature after "story"[\s\S]*Usage: \/autodevhub story/],
    ['a description over 4,000 characters', `story ${'a'.repeat(4001)}`, /4001 characters; the limit is 4000/],
  ])('answers %s with usage or an error, and queues nothing', async (_name, text, expected) => {
    const runsBefore = await count('workflow_runs');
    const res = await postToSlack(t.url, slashCommandBody({ text, trigger_id: `usage-${Math.random()}` }));
    expect(res.status).toBe(200);
    const ack = (await res.json()) as { text: string; response_type: string };
    // As Slack shows it: the three escaped characters back as themselves.
    expect(ack.text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')).toMatch(expected);
    expect(ack.response_type).toBe('ephemeral');
    expect(await count('workflow_runs')).toBe(runsBefore);
  });

  it('Accept marks the story accepted by the clicking user, once; Regenerate makes a linked new version in the thread', async () => {
    const res = await postToSlack(t.url, slashCommandBody({ trigger_id: 'trigger-buttons', text: 'story As a customer I want to search orders by date so that I find receipts fast' }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    const story = await waitFor(
      () => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).includes(ref) && String(c.args.text).startsWith('User story')),
      15_000,
      'story post',
    );
    const storyId = Number(/story:(\d+)/.exec(JSON.stringify(story.args.blocks))![1]);
    const posted = story.ts!;
    const payload = fixture<Record<string, any>>('block-actions.json');
    payload.message.ts = posted;
    payload.message.thread_ts = story.args.thread_ts;
    payload.container.message_ts = posted;

    // Regenerate first (an accepted story cannot be regenerated).
    const regen = structuredClone(payload);
    regen.trigger_id = 'trigger-regenerate-1';
    regen.actions[0] = { ...regen.actions[0], action_id: 'story_regenerate', value: String(storyId) };
    expect((await postToSlack(t.url, interactionBody(regen))).status).toBe(200);
    const v2 = await waitFor(async () => {
      const rows: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(`select * from user_stories where parent_id = ?`, [storyId]);
      return rows[0];
    }, 15_000, 'regenerated story');
    expect(Number(v2.version)).toBe(2);
    // A regenerate is a different version (the offline generator adds a scenario the first left out).
    const [v1]: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(`select gherkin from user_stories where id = ?`, [storyId]);
    expect(v2.gherkin).not.toBe(v1!.gherkin);
    const v2Post = await waitFor(
      () => slack.callsOf('chat.postMessage').find((c) => JSON.stringify(c.args.blocks ?? '').includes(`story:${v2.id}`)),
      10_000,
      'v2 posted',
    );
    expect(v2Post.args.thread_ts).toBe(story.args.thread_ts);

    // Accept v2, with a button value that names v2; the user comes from the payload.
    const accept = structuredClone(payload);
    accept.trigger_id = 'trigger-accept-1';
    accept.actions[0] = { ...accept.actions[0], action_id: 'story_accept', value: String(v2.id) };
    accept.message.ts = v2Post.ts;
    expect((await postToSlack(t.url, interactionBody(accept))).status).toBe(200);
    await waitFor(async () => {
      const rows: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(`select * from user_stories where id = ?`, [v2.id]);
      return rows[0]!.status === 'accepted' && rows[0];
    }, 10_000, 'accepted');
    const rows: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(`select * from user_stories where id in (?, ?) order by id`, [storyId, v2.id]);
    expect(rows.map((r) => r.status)).toEqual(['superseded', 'accepted']);
    expect(rows[1]!.accepted_by).toBe('slack:U2147483697');
    await waitFor(() => slack.callsOf('chat.update').find((c) => JSON.stringify(c.args.blocks ?? '').includes('Accepted by <@U2147483697>')), 5000, 'accepted edit');

    // A second click is refused privately and changes nothing.
    const again = structuredClone(accept);
    again.trigger_id = 'trigger-accept-2';
    again.user = { ...again.user, id: 'U0OTHER' };
    expect((await postToSlack(t.url, interactionBody(again))).status).toBe(200);
    const ephemeral = await waitFor(() => slack.callsOf('chat.postEphemeral').find((c) => c.args.user === 'U0OTHER'), 5000, 'ephemeral refusal');
    expect(String(ephemeral.args.text)).toMatch(/already accepted by slack:U2147483697/);
    const after: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(`select accepted_by from user_stories where id = ?`, [v2.id]);
    expect(after[0]!.accepted_by).toBe('slack:U2147483697');
  });

  it('serves a near-identical description from the cache, marked as cached', async () => {
    const first = await postToSlack(t.url, slashCommandBody({ trigger_id: 'cache-1', text: 'story As a reader I want to bookmark articles so that I can read them later' }));
    const firstRef = /R-\d+/.exec(((await first.json()) as { text: string }).text)![0];
    await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).includes(firstRef) && String(c.args.text).startsWith('User story')), 15_000, 'first story');
    const res = await postToSlack(t.url, slashCommandBody({ trigger_id: 'cache-2', text: 'story as a Reader, I want to bookmark the articles, so that I can read them later!' }));
    const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
    const row = await waitFor(async () => {
      const rows: Array<Record<string, unknown>> = await t.app.db.orm.em.fork().getConnection().execute(
        `select s.* from user_stories s join workflow_runs r on r.id = s.run_id where r.number = ?`, [Number(ref.slice(2))]);
      return rows[0];
    }, 15_000, 'cached story');
    expect(row.cached).toBe(true);
    const post = await waitFor(() => slack.callsOf('chat.postMessage').find((c) => String(c.args.text).includes(ref) && String(c.args.text).startsWith('User story')), 10_000, 'post');
    expect(JSON.stringify(post.args.blocks)).toContain('served from cache');
  });
});

describe('Slack: the story cache is per project', () => {
  it('never serves one project a story written for another (or for no project)', async () => {
    const p = await startTestApp({ SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL: slack.apiUrl, AUTODEVHUB_CONFIG: writeProjectsConfig() });
    const description = 'story As an editor I want to schedule posts so that they go out on time';
    const cached = async (channel: string, trigger: string) => {
      const res = await postToSlack(p.url, slashCommandBody({ trigger_id: trigger, channel_id: channel, text: description }));
      const ref = /R-\d+/.exec(((await res.json()) as { text: string }).text)![0];
      const row = await waitFor(async () => {
        const rows: Array<{ cached: boolean; project_key: string | null }> = await p.app.db.orm.em.fork().getConnection().execute(
          `select s.cached, r.project_key from user_stories s join workflow_runs r on r.id = s.run_id where r.number = ?`, [Number(ref.slice(2))]);
        return rows[0];
      }, 15_000, `the story of ${ref}`);
      return row;
    };
    try {
      expect(await cached('C0WEB', 'pc-1')).toMatchObject({ cached: false, project_key: 'web' });
      expect(await cached('C0API', 'pc-2')).toMatchObject({ cached: false, project_key: 'api' });
      expect(await cached('C0NONE', 'pc-3')).toMatchObject({ cached: false, project_key: null });
      expect(await cached('C0WEB', 'pc-4')).toMatchObject({ cached: true, project_key: 'web' });
    } finally {
      await p.stop();
    }
  });
});

describe('Slack: switched off without its secrets', () => {
  it('answers 503 naming the missing variable', async () => {
    const off = await startTestApp({ SLACK_SIGNING_SECRET: '', SLACK_BOT_TOKEN: '' });
    try {
      const res = await postToSlack(off.url, slashCommandBody());
      expect(res.status).toBe(503);
      expect(((await res.json()) as { message: string }).message).toMatch(/SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN/);
    } finally {
      await off.stop();
    }
  });
});
