import { describe, expect, it } from 'vitest';
import { formatTime, frozenAt, refAllowed, upcomingFreezes } from '../../src/core/safety/windows.js';
import { parseCommand } from '../../src/core/commands/grammar.js';
import type { TimeWindow } from '../../src/core/config.js';

const BERLIN = 'Europe/Berlin';
const at = (iso: string) => Date.parse(iso);
const policy = (freezes: TimeWindow[], deploy_windows: TimeWindow[] = []) => ({ freezes, deploy_windows });

describe('freeze windows in the team\'s time zone', () => {
  const friday: TimeWindow = { name: 'Friday afternoons', days: ['fri'], from: '15:00', until: '24:00' };

  it('puts a weekly window at the same wall time in winter and in summer (UTC moves by the offset)', () => {
    // Friday 4 Dec 2026, CET (UTC+1): 15:00 Berlin is 14:00 UTC.
    expect(frozenAt(policy([friday]), BERLIN, at('2026-12-04T13:59:00Z'))).toBeUndefined();
    expect(frozenAt(policy([friday]), BERLIN, at('2026-12-04T14:00:00Z'))).toEqual({ until: at('2026-12-04T23:00:00Z'), reasons: ['Friday afternoons'] });
    // Friday 3 Jul 2026, CEST (UTC+2): 15:00 Berlin is 13:00 UTC.
    expect(frozenAt(policy([friday]), BERLIN, at('2026-07-03T13:00:00Z'))).toEqual({ until: at('2026-07-03T22:00:00Z'), reasons: ['Friday afternoons'] });
  });

  it('follows the clocks across the spring-forward night: a 01:00–04:00 window lasts two hours', () => {
    const night: TimeWindow = { name: 'maintenance', days: ['sun'], from: '01:00', until: '04:00' };
    // 28 Mar 2027, 02:00 CET becomes 03:00 CEST. 01:00 CET = 00:00 UTC; 04:00 CEST = 02:00 UTC.
    expect(frozenAt(policy([night]), BERLIN, at('2027-03-28T00:30:00Z'))?.until).toBe(at('2027-03-28T02:00:00Z'));
    expect(frozenAt(policy([night]), BERLIN, at('2027-03-28T02:00:00Z'))).toBeUndefined();
    const [o] = upcomingFreezes(policy([night]), BERLIN, at('2027-03-27T12:00:00Z'), 86_400_000);
    expect(o!.end - o!.start).toBe(2 * 3_600_000);
  });

  it('and across the fall-back night: the same window lasts four hours', () => {
    const night: TimeWindow = { name: 'maintenance', days: ['sun'], from: '01:00', until: '04:00' };
    // 25 Oct 2026, 03:00 CEST becomes 02:00 CET. 01:00 CEST = 23:00 UTC (Sat); 04:00 CET = 03:00 UTC.
    const [o] = upcomingFreezes(policy([night]), BERLIN, at('2026-10-24T12:00:00Z'), 86_400_000);
    expect(o).toMatchObject({ start: at('2026-10-24T23:00:00Z'), end: at('2026-10-25T03:00:00Z') });
  });

  it('names the end in words, in the zone: "Mon 4 Jan 09:00 Europe/Berlin (holiday freeze)"', () => {
    const holiday: TimeWindow = { name: 'holiday freeze', from: '2026-12-20 00:00', until: '2027-01-04 09:00' };
    const f = frozenAt(policy([holiday]), BERLIN, at('2026-12-24T12:00:00Z'))!;
    expect(formatTime(f.until!, BERLIN)).toBe('Mon 4 Jan 09:00 Europe/Berlin');
    expect(f.reasons).toEqual(['holiday freeze']);
  });

  it('lets a freeze win over a deploy window, and follows back-to-back windows to the first free minute', () => {
    const hours: TimeWindow = { name: 'working hours', days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', until: '18:00' };
    // Friday 16:00 Berlin: inside working hours, inside the Friday freeze → frozen until Monday 09:00.
    const f = frozenAt(policy([friday], [hours]), BERLIN, at('2026-12-04T15:00:00Z'))!;
    expect(f.until).toBe(at('2026-12-07T08:00:00Z'));
    expect(f.reasons).toEqual(['Friday afternoons', 'outside the deploy windows']);
    // Tuesday 10:00 Berlin: open.
    expect(frozenAt(policy([friday], [hours]), BERLIN, at('2026-12-08T09:00:00Z'))).toBeUndefined();
  });

  it('reads a window across midnight (22:00–06:00) as ending the next day', () => {
    const nights: TimeWindow = { name: 'nights', days: ['mon'], from: '22:00', until: '06:00' };
    expect(frozenAt(policy([nights]), 'UTC', at('2026-12-08T03:00:00Z'))?.until).toBe(at('2026-12-08T06:00:00Z'));
  });
});

describe('branch and tag rules', () => {
  it('take main and v* and nothing else', () => {
    expect(refAllowed(['main', 'v*'], 'main')).toBe(true);
    expect(refAllowed(['main', 'v*'], 'v2.3.1')).toBe(true);
    expect(refAllowed(['main', 'v*'], 'refs/tags/v2')).toBe(true);
    expect(refAllowed(['main', 'v*'], 'feature/x')).toBe(false);
    expect(refAllowed(['main', 'v*'], 'mainline')).toBe(false);
    expect(refAllowed([], 'anything')).toBe(true);
  });
});

describe('the grammar of deploy safety', () => {
  it('parses lock, unlock, locks, freezes, queue and --override', () => {
    expect(parseCommand('lock production debugging the cache for 2h')).toEqual({ ok: true, command: { verb: 'lock', environment: 'production', reason: 'debugging the cache', forMs: 7_200_000 } });
    expect(parseCommand('lock acme/web staging')).toEqual({ ok: true, command: { verb: 'lock', repo: 'acme/web', environment: 'staging' } });
    expect(parseCommand('unlock production "done here"')).toEqual({ ok: true, command: { verb: 'unlock', environment: 'production', reason: 'done here' } });
    expect(parseCommand('locks')).toEqual({ ok: true, command: { verb: 'locks' } });
    expect(parseCommand('queue acme/web production')).toEqual({ ok: true, command: { verb: 'queue', repo: 'acme/web', environment: 'production' } });
    expect(parseCommand('freezes production')).toEqual({ ok: true, command: { verb: 'freezes', environment: 'production' } });
    expect(parseCommand('deploy production v2 --override "hotfix for the outage"')).toEqual({ ok: true, command: { verb: 'deploy', environment: 'production', ref: 'v2', override: 'hotfix for the outage' } });
    expect(parseCommand('promote R-12 --override “soak skipped: incident”')).toEqual({ ok: true, command: { verb: 'promote', run: 'R-12', override: 'soak skipped: incident' } });
    expect(parseCommand('deploy production --override')).toMatchObject({ ok: false, error: expect.stringMatching(/Say why/) });
    expect(parseCommand('lock production for 90d')).toMatchObject({ ok: false, error: expect.stringMatching(/between 1s and 30d/) });
    expect(parseCommand('queue')).toMatchObject({ ok: false });
  });

  it('reads "for 1h30m" as a time, and refuses a time it cannot read rather than lock for ever', () => {
    expect(parseCommand('lock staging t for 1h30m')).toEqual({ ok: true, command: { verb: 'lock', environment: 'staging', reason: 't', forMs: 5_400_000 } });
    for (const tail of ['for 1.5h', 'for 1w', 'for 2 hours', 'for -1h', 'for 10']) {
      expect(parseCommand(`lock staging debugging ${tail}`), tail).toMatchObject({ ok: false, error: expect.stringMatching(/Say how long in whole s, m, h or d/) });
    }
    // A reason that merely contains "for" is still a reason.
    expect(parseCommand('lock staging waiting for the vendor')).toEqual({ ok: true, command: { verb: 'lock', environment: 'staging', reason: 'waiting for the vendor' } });
  });
});
