import { numberValue } from '../ai/english.js';

/**
 * Values a description names — limits, counts, periods — read as boundaries a tester would try:
 * just below, at and just above. "Upload files up to 10 MB" → 9 MB, 10 MB, 11 MB;
 * "Lock accounts after 5 failed login attempts" → 4 and 5 attempts.
 */

export type Bound = 'max' | 'min' | 'after' | 'older' | 'window' | 'retain';
export type Family = 'size' | 'duration' | 'percent' | 'money' | 'count';

export interface NamedValue {
  /** As written: "up to 10 MB". */
  raw: string;
  amount: number;
  /** "MB", "days", "failed login attempts". */
  unit: string;
  family: Family;
  bound: Bound;
  /** The words before the number that set the bound ("inactive for", "older than"). */
  lead: string;
}

const NUM = String.raw`(\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|fifty|hundred)`;
const SIZE = /^(kb|mb|gb|tb|bytes?|kilobytes?|megabytes?|gigabytes?)$/i;
const DURATION = /^(ms|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)$/i;
const STOP = new Set(['of', 'per', 'in', 'on', 'for', 'from', 'to', 'and', 'or', 'the', 'a', 'an', 'with', 'at', 'by', 'across', 'before', 'after', 'within', 'is', 'are', 'be', 'so', 'that', 'than', 'ago', 'if', 'when']);

const LEADS: Array<[RegExp, Bound]> = [
  [/\b(up to|at most|no more than|not more than|maximum(?: of)?|max\.?|under|below|less than|fewer than|limit(?:ed)? (?:of|to)|capped at|within)\s*$/i, 'max'],
  [/\b(at least|minimum(?: of)?|min\.?|no less than|no fewer than)\s*$/i, 'min'],
  [/\b(older than|(?:inactive|idle|unused|stale|dormant|untouched|unpaid|overdue|open)\s+(?:for|longer than|more than))\s*$/i, 'older'],
  [/\b((?:in|over|across|from|during|for)\s+the\s+(?:last|past)|the\s+(?:last|past))\s*$/i, 'window'],
  [/\b(above|exceeding)\s*$/i, 'max'],
  [/\b(passes|exceeds|goes (?:above|over)|rises (?:above|over)|stays (?:above|over)|is (?:above|over)|drops (?:below|under)|falls (?:below|under)|goes (?:below|under)|stays (?:below|under))\s*$/i, 'after'],
  [/\b(after|more than|over|once .* reaches|every)\s*$/i, 'after'],
  [/\b(for|keep(?:ing)? .* for|retain(?:ed)? .* for)\s*$/i, 'retain'],
];

function unitOf(words: string[]): { unit: string; family: Family; used: number } | undefined {
  const w0 = (words[0] ?? '').replace(/[.,;:!?]+$/, '');
  if (w0 === '%' || /^percent$/i.test(w0)) return { unit: '%', family: 'percent', used: 1 };
  if (SIZE.test(w0)) return { unit: w0.length <= 2 ? w0.toUpperCase() : w0.toLowerCase(), family: 'size', used: 1 };
  if (DURATION.test(w0)) return { unit: w0.toLowerCase(), family: 'duration', used: 1 };
  if (/^(dollars?|euros?|pounds?|usd|eur|gbp|chf|yen)$/i.test(w0)) return { unit: w0.toLowerCase(), family: 'money', used: 1 };
  const kept: string[] = [];
  for (const raw of words.slice(0, 3)) {
    const w = raw.replace(/[.,;:!?]+$/, '');
    if (!/^[a-z][a-z-]*$/i.test(w) || STOP.has(w.toLowerCase())) break;
    kept.push(w);
    if (w !== raw) break;
  }
  while (kept.length && !/s$/i.test(kept[kept.length - 1]!) && kept.length > 1) kept.pop();
  if (!kept.length) return undefined;
  return { unit: kept.join(' '), family: 'count', used: kept.length };
}

export function findValues(text: string): NamedValue[] {
  const found: NamedValue[] = [];
  const re = new RegExp(String.raw`(?:^|[\s(])(?:([$€£])\s?)?${NUM}\s*(%?)(?=[\s,.;:!?)]|$)`, 'gi');
  for (const m of text.matchAll(re)) {
    const amount = numberValue(m[2]!.replace(',', '.'));
    if (amount === undefined || amount <= 0) continue;
    const before = text.slice(0, m.index! + m[0].indexOf(m[2]!) - (m[1] ? 1 : 0)).trimEnd();
    const after = text.slice(m.index! + m[0].length).trim().split(/\s+/);
    const lead = LEADS.find(([r]) => r.test(before));
    const unit = m[1] ? { unit: m[1], family: 'money' as const, used: 0 } : m[3] ? { unit: '%', family: 'percent' as const, used: 0 } : unitOf(after);
    if (!unit || !lead) continue;
    let bound = lead[1];
    if (bound === 'retain' && unit.family !== 'duration') continue;
    if (bound === 'window' && !/s$/i.test(unit.unit)) continue;
    if (bound === 'after' && /\bmore than|over\s*$/i.test(before) && unit.family !== 'duration' && unit.family !== 'count') bound = 'max';
    const leadWords = lead[0].exec(before)![1]!;
    found.push({
      raw: `${leadWords} ${m[1] ?? ''}${m[2]}${m[3] ? '%' : ''}${unit.used ? ` ${after.slice(0, unit.used).join(' ').replace(/[.,;:!?]+$/, '')}` : ''}`.replace(/\s+/g, ' ').trim(),
      amount,
      unit: unit.unit,
      family: unit.family,
      bound,
      lead: leadWords.toLowerCase(),
    });
  }
  return found;
}

/** One value as a cell: "9 MB", "89 days", "$49", "4". Counts are bare numbers (the step names the noun). */
export function formatValue(v: NamedValue, amount: number): string {
  const n = Number.isInteger(amount) ? String(amount) : amount.toFixed(1);
  if (v.family === 'money') return /^[a-z]/i.test(v.unit) ? `${n} ${v.unit}` : `${v.unit}${n}`;
  if (v.family === 'percent') return `${n}%`;
  if (v.family === 'count') return n;
  if (v.family === 'duration') {
    const unit = v.unit.replace(/s$/, '');
    return `${n} ${amount === 1 ? unit : `${unit}s`}`;
  }
  return `${n} ${v.unit}`;
}

/** The amounts either side of a boundary, and which side the rule puts each on. */
export function boundaryRows(v: NamedValue): Array<{ amount: number; inside: boolean }> {
  const step = v.family === 'money' || v.family === 'percent' ? Math.max(1, Math.round(v.amount / 10)) : 1;
  const below = Math.max(0, v.amount - step);
  switch (v.bound) {
    case 'max':
      return [{ amount: below, inside: true }, { amount: v.amount, inside: true }, { amount: v.amount + step, inside: false }];
    case 'min':
      return [{ amount: below, inside: false }, { amount: v.amount, inside: true }, { amount: v.amount + step, inside: true }];
    case 'after':
      return [{ amount: below, inside: false }, { amount: v.amount, inside: true }];
    case 'older':
      // Exactly at the boundary is left to an open question: "older than 90 days" rarely says.
      return [{ amount: below, inside: false }, { amount: v.amount + step, inside: true }];
    case 'window':
      return [{ amount: v.amount, inside: true }, { amount: v.amount + step, inside: false }];
    case 'retain':
      return [{ amount: below, inside: true }, { amount: v.amount + step, inside: false }];
  }
}
