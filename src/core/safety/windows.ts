import { DateTime } from 'luxon';
import type { EnvironmentPolicy, TimeWindow } from '../config.js';

/**
 * Freeze and deploy windows, in the team's time zone. Wall-clock times are turned into instants
 * by luxon over the platform's Intl time-zone data, so "Friday 15:00 Europe/Berlin" is 14:00 UTC
 * in winter and 13:00 UTC in summer, and a window across a daylight-saving change is as long as
 * the clocks on the wall say (a 01:00–04:00 window on the spring-forward night lasts two hours).
 * A wall time that does not exist (02:30 on that night) moves forward to the first one that does.
 */

const DAY_INDEX = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 } as const;

export interface Occurrence {
  name: string;
  start: number;
  end: number;
}

function clock(value: string): { hour: number; minute: number } {
  const [h, m] = value.split(':').map(Number) as [number, number];
  return { hour: h, minute: m };
}

function at(day: DateTime, value: string): DateTime {
  if (value === '24:00') return day.plus({ days: 1 }).startOf('day');
  return day.set({ ...clock(value), second: 0, millisecond: 0 });
}

/** The occurrences of a window that overlap [from, to]. */
export function occurrences(w: TimeWindow, zone: string, from: number, to: number): Occurrence[] {
  const tz = w.time_zone ?? zone;
  if (!w.days) {
    const fmt = (v: string) => DateTime.fromFormat(v.length === 10 ? `${v} 00:00:00` : v.length === 16 ? `${v}:00` : v, 'yyyy-MM-dd HH:mm:ss', { zone: tz });
    const start = fmt(w.from).toMillis();
    const end = fmt(w.until).toMillis();
    return end > from && start <= to ? [{ name: w.name, start, end }] : [];
  }
  const out: Occurrence[] = [];
  const first = DateTime.fromMillis(from, { zone: tz }).startOf('day').minus({ days: 1 });
  const days = Math.ceil((to - from) / 86_400_000) + 2;
  for (let i = 0; i <= days; i++) {
    const day = first.plus({ days: i });
    if (!w.days.some((d) => DAY_INDEX[d] === day.weekday)) continue;
    const start = at(day, w.from);
    let end = at(day, w.until);
    if (end <= start) end = at(day.plus({ days: 1 }), w.until);
    if (end.toMillis() > from && start.toMillis() <= to) out.push({ name: w.name, start: start.toMillis(), end: end.toMillis() });
  }
  return out;
}

function containing(w: TimeWindow, zone: string, t: number): Occurrence | undefined {
  return occurrences(w, zone, t, t).find((o) => o.start <= t && t < o.end);
}

export interface Frozen {
  /** When deploys are possible again (undefined: not within the next year). */
  until: number | undefined;
  /** Why: the freezes' names, or "outside the deploy windows". */
  reasons: string[];
}

const YEAR = 366 * 86_400_000;

/**
 * Whether the environment is frozen at `t`, and until when. A freeze wins over a deploy window;
 * back-to-back or overlapping windows are followed to the first instant that is free.
 */
export function frozenAt(policy: Pick<EnvironmentPolicy, 'freezes' | 'deploy_windows'>, zone: string, t: number): Frozen | undefined {
  const reasons = new Set<string>();
  let cur = t;
  for (let i = 0; i < 200; i++) {
    const denying = policy.freezes.map((w) => containing(w, zone, cur)).filter((o): o is Occurrence => Boolean(o));
    if (denying.length) {
      denying.forEach((o) => reasons.add(o.name));
      cur = Math.max(...denying.map((o) => o.end));
      continue;
    }
    if (policy.deploy_windows.length && !policy.deploy_windows.some((w) => containing(w, zone, cur))) {
      reasons.add('outside the deploy windows');
      const next = policy.deploy_windows.flatMap((w) => occurrences(w, zone, cur, cur + 14 * 86_400_000)).map((o) => o.start).filter((s) => s > cur);
      if (!next.length) return { until: undefined, reasons: [...reasons] };
      cur = Math.min(...next);
      continue;
    }
    break;
  }
  if (cur === t) return undefined;
  return { until: cur - t > YEAR ? undefined : cur, reasons: [...reasons] };
}

/** The freezes that are on now or start within `horizonMs`, soonest first. */
export function upcomingFreezes(policy: Pick<EnvironmentPolicy, 'freezes'>, zone: string, t: number, horizonMs: number): Occurrence[] {
  return policy.freezes.flatMap((w) => occurrences(w, zone, t, t + horizonMs)).sort((a, b) => a.start - b.start);
}

/** "Mon 8 Dec 09:00 Europe/Berlin": how refusals name a time. */
export function formatTime(t: number, zone: string): string {
  return `${DateTime.fromMillis(t, { zone }).toFormat('ccc d LLL HH:mm')} ${zone}`;
}

/** "2h 5m", "12m", "40s": how long until something. */
export function formatSpan(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.ceil(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
}

/** A ref matches `main`, `v*`, `release/*` (a glob: * is any run of characters). */
export function refAllowed(patterns: string[], ref: string): boolean {
  if (!patterns.length) return true;
  const name = ref.replace(/^refs\/(heads|tags)\//, '');
  return patterns.some((p) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name));
}
