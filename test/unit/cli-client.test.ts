import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chooseMode, createTtyReporter, elapsed, plainLine, progressBar } from '../../src/client/output.js';
import { exitForRun, exitForStatus } from '../../src/client/exit.js';
import { normaliseUrl } from '../../src/client/credentials.js';
import { createSequencer, wasRejected } from '../../src/client/watch.js';
import type { ApiClient, Run } from '../../src/client/api.js';
import type { FeedEvent } from '../../src/client/api.js';

const event = (over: Partial<FeedEvent>): FeedEvent => ({
  runId: 1, ref: 'R-7', projectKey: 'web', kind: 'deploy', seq: 1, stage: 'gate', status: 'running', progress: 40, message: 'Checking CI', at: '2026-11-22T04:00:00.000Z', data: null, ...over,
});

describe('CLI client output', () => {
  it('draws a progress bar and elapsed time', () => {
    expect(progressBar(40, 10)).toBe('[████░░░░░░]  40%');
    expect(progressBar(100, 4)).toBe('[████] 100%');
    expect(elapsed(65_000)).toBe('1:05');
    expect(elapsed(3_725_000)).toBe('1:02:05');
  });

  it('redraws only on a sized terminal: JSON when asked, plain lines in logs and unsized ptys', () => {
    expect(chooseMode({ json: true }, { isTTY: true, columns: 80 })).toBe('json');
    expect(chooseMode({}, { isTTY: true, columns: 80 })).toBe('tty');
    expect(chooseMode({}, { isTTY: true, columns: 0 })).toBe('plain');
    expect(chooseMode({}, {})).toBe('plain');
  });

  it('writes a plain line per event: time, run, status, stage, progress, message', () => {
    expect(plainLine(event({}))).toBe('2026-11-22T04:00:00.000Z R-7 running gate 40% Checking CI');
  });

  it('on a terminal: one spinner line per stage, closed with a mark, with bar and elapsed time', () => {
    // What ora needs of a terminal; redraws are not checked, only the lines each stage leaves.
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    let out = '';
    stream.on('data', (d: Buffer) => (out += d.toString()));
    const reporter = createTtyReporter({ out: stream, err: stream }, Date.now() - 12_000, true);
    reporter.event(event({ seq: 1 }));
    reporter.event(event({ seq: 2, stage: 'deploy', progress: 60, message: 'Deploying' }));
    reporter.event(event({ seq: 3, stage: 'done', status: 'succeeded', progress: 100, message: 'Deployed' }));
    reporter.stop();
    out = out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
    expect(out).toMatch(/✔ R-7 gate \[████████░░░░░░░░░░░░\]  40% 0:1\d {2}Checking CI/);
    expect(out).toMatch(/✔ R-7 deploy \[████████████░░░░░░░░\]  60% 0:1\d {2}Deploying/);
    expect(out).toMatch(/✔ R-7 done \[████████████████████\] 100% 0:1\d {2}Deployed/);
  });
});

describe('CLI client exit codes', () => {
  it('maps API refusals and run outcomes to the documented codes', () => {
    expect([400, 401, 403, 404, 409, 422, 429, 500, 502, 503].map((s) => exitForStatus(s))).toEqual([2, 4, 4, 2, 1, 2, 1, 1, 5, 5]);
    // A feature the server is not set up for is a failure to report, not an outage to retry.
    expect(exitForStatus(503, 'not_configured')).toBe(1);
    expect(exitForStatus(503, 'unavailable')).toBe(5);
    expect(exitForRun({ status: 'succeeded' })).toBe(0);
    expect(exitForRun({ status: 'failed' })).toBe(1);
    expect(exitForRun({ status: 'needs_input' })).toBe(6);
    expect(exitForRun({ status: 'cancelled' })).toBe(3);
    expect(exitForRun({ status: 'failed', rejected: true })).toBe(3);
  });

  it('tells a rejection from a failure by the approvals on the final event', () => {
    const approvals = (decision: string) => ({ approvals: { decisions: [{ by: 'slack:U1', decision, reason: null, at: '' }] } });
    expect(wasRejected(event({ status: 'failed', data: approvals('reject') }))).toBe(true);
    expect(wasRejected(event({ status: 'failed', data: approvals('approve') }))).toBe(false);
    expect(wasRejected(event({ status: 'failed', data: null }))).toBe(false);
  });
});

describe('CLI client credentials', () => {
  it('keys servers by origin and path, refusing addresses that carry credentials', () => {
    expect(normaliseUrl('https://adh.acme.dev/')).toBe('https://adh.acme.dev');
    expect(normaliseUrl('adh.acme.dev/tools/')).toBe('https://adh.acme.dev/tools');
    expect(() => normaliseUrl('ftp://adh.acme.dev')).toThrow(/must start with https:\/\//);
    expect(() => normaliseUrl('https://me:adh_x@adh.acme.dev')).toThrow(/not in the address/);
  });
});

describe('CLI client watch sequencing', () => {
  const run = { id: 1, ref: 'R-7' } as Run;
  function setup(stored: FeedEvent[] = []) {
    const shown: number[] = [];
    const notes: string[] = [];
    const asked: string[] = [];
    const api = { get: async (path: string) => (asked.push(path), { events: stored }) } as unknown as ApiClient;
    let final: FeedEvent | undefined;
    const seq = createSequencer(api, run, { event: (e) => shown.push(e.seq), note: (n) => notes.push(n), stop: () => undefined }, (e) => (final = e), (err) => {
      throw err;
    });
    const settle = () => new Promise((r) => setTimeout(r, 10));
    return { seq, shown, notes, asked, settle, final: () => final };
  }

  it('shows each event once, in order, and says when the server sent one twice', async () => {
    const s = setup();
    for (const n of [1, 2, 2, 1, 3]) s.seq.receive(event({ seq: n }));
    await s.settle();
    expect(s.shown).toEqual([1, 2, 3]);
    expect(s.notes).toEqual(['Dropped event 2 of R-7: already shown.']);
    expect(s.seq.duplicates()).toBe(2);
  });

  it('fills a gap from the REST API before the event after it, and stops at the final event', async () => {
    const s = setup([event({ seq: 2 }), event({ seq: 3 }), event({ seq: 4 })]);
    s.seq.receive(event({ seq: 1 }));
    s.seq.receive(event({ seq: 4, status: 'succeeded' }));
    await s.settle();
    expect(s.asked).toEqual(['/api/v1/runs/R-7/events?after=1']);
    expect(s.shown).toEqual([1, 2, 3, 4]);
    expect(s.final()?.seq).toBe(4);
  });
});
