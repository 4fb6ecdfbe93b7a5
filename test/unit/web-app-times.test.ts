import { describe, expect, it } from 'vitest';
import { absolute, duration, relative } from '../../src/bots/web/app/layout.js';
import { stagesOf } from '../../src/bots/web/app/runs.js';
import type { RunEventMessage, RunSummary } from '../../src/core/runs/model.js';

/** The web app's times: relative and absolute, and each stage's start and duration. */

const now = Date.parse('2026-11-22T12:00:00Z');

describe('web app times', () => {
  it('says how long ago, and when, in words', () => {
    expect(relative('2026-11-22T11:59:50Z', now)).toBe('just now');
    expect(relative('2026-11-22T11:57:00Z', now)).toBe('3 min ago');
    expect(relative('2026-11-22T09:00:00Z', now)).toBe('3 h ago');
    expect(relative('2026-11-24T12:00:00Z', now)).toBe('in 2 d');
    expect(absolute('2026-11-22T04:40:00Z')).toBe('22 Nov 2026, 04:40 UTC');
    expect(duration(65_000)).toBe('1 min 5 s');
    expect(duration(3_720_000)).toBe('1 h 2 min');
  });

  it('groups events into stages, each lasting until the next starts and the last until the run finished', () => {
    const at = (s: number) => new Date(now + s * 1000).toISOString();
    const e = (seq: number, stage: string, s: number) => ({ seq, stage, at: at(s), message: `${stage} ${seq}` }) as RunEventMessage;
    const run = { finishedAt: at(30) } as RunSummary;
    const stages = stagesOf(run, [e(1, 'gate', 0), e(2, 'gate', 2), e(3, 'approval', 5), e(4, 'deploy', 25)]);
    expect(stages.map((s) => [s.stage, s.ms, s.messages.length])).toEqual([
      ['gate', 5000, 2],
      ['approval', 20000, 1],
      ['deploy', 5000, 1],
    ]);
    const open = stagesOf({ finishedAt: null } as RunSummary, [e(1, 'gate', 0)], now + 7000);
    expect([open[0]!.endedAt, open[0]!.ms]).toEqual([null, 7000]);
  });
});
