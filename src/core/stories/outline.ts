import { article, sentenceCase } from '../ai/english.js';
import type { Assessment } from './assess.js';
import { headNoun, singularWord, type Phrases } from './phrases.js';
import { boundaryRows, formatValue, type NamedValue } from './values.js';
import type { StoryScenario, StoryStep } from './structured.js';

/**
 * A Scenario Outline over the first value the description names: the rows sit either side of the
 * boundary, and the expected result of each row follows from the kind of bound (a maximum
 * accepts up to the limit, a threshold acts from it, a window counts what is inside it).
 */

function subjectOf(p: Phrases): { some: string; the: string } {
  if (/^(which|what)\s/i.test(p.object)) {
    const noun = singularWord(headNoun(p.object));
    return { some: `a ${noun}`, the: `the ${noun}` };
  }
  if (p.self || !p.object) return { some: 'it', the: 'it' };
  return { some: `${article(p.head)} ${p.head}`, the: `the ${p.head}` };
}

function column(v: NamedValue): string {
  if (v.family === 'size') return 'size';
  if (v.family === 'money') return 'amount';
  if (v.family === 'percent') return 'share';
  if (v.family === 'duration') return 'age';
  return v.unit.split(' ').at(-1)!.toLowerCase();
}

/** The Given that sets the quantity, written around the column's placeholder. */
function givenFor(v: NamedValue, p: Phrases, col: string): string {
  const s = subjectOf(p);
  if (v.bound === 'window') {
    const what = /^(which|what)\s+\w+\s+(are|is)\s+(.+)$/i.exec(p.object);
    const state = what ? `was ${what[3]}` : `was ${p.done}`;
    return `${s.some} ${state} <${col}> ago`;
  }
  if (v.family === 'size') return `${s.some === 'it' ? 'a file' : s.some} of <${col}>`;
  if (v.family === 'count') return `the number of ${v.unit} is <${col}>`;
  if (v.family === 'duration') {
    const state = /inactive|idle|unused|stale|dormant|untouched|unpaid|overdue|open/.exec(v.lead)?.[0];
    return state ? `${s.some} has been ${state} for <${col}>` : `${s.some} is <${col}> old`;
  }
  return `the ${col} is <${col}>`;
}

function resultsFor(v: NamedValue, p: Phrases): [string, string] {
  if (v.bound === 'max' || v.bound === 'min') return ['accepted', 'refused'];
  if (v.bound === 'window') return ['listed', 'not listed'];
  if (v.bound === 'retain') return ['kept', 'deleted'];
  return [p.done, `not ${p.done}`];
}

const KEEPING = /^(keep|retain|store|hold|save|archive|log|cache|back up)$/;
const SHOWING = /^(see|view|list|show|display|preview)$/;

/**
 * The outlines whose rows follow from what the sentence makes the value mean, rather than from
 * the value's shape: a period a state lasts ("snooze for 30 minutes": still snoozed just before,
 * back just after), an amount a rule applies beyond ("orders above $100": below, at, above), and
 * how many are shown ("show up to 8": 7 of 7, 8 of 8, 8 of 9).
 */
function meaningOutline(v: NamedValue, p: Phrases, given: StoryStep[], system: boolean, text: string, trigger: string | null): StoryScenario | null {
  const step = v.family === 'money' || v.family === 'percent' ? Math.max(1, Math.round(v.amount / 10)) : 1;
  const name = sentenceCase(v.raw);
  const and = (text: string): StoryStep => ({ keyword: given.length ? 'And' : 'Given', text });
  if (v.family === 'duration' && v.bound === 'retain' && !KEEPING.test(p.verb)) {
    const unit = v.unit.replace(/s$/, '');
    const fine = unit === 'hour' ? { n: v.amount * 60 - 1, u: 'minutes', m: v.amount * 60 + 1 } : unit === 'day' ? { n: v.amount * 24 - 1, u: 'hours', m: v.amount * 24 + 1 } : { n: v.amount - 1, u: `${unit}s`, m: v.amount + 1 };
    return {
      name,
      type: 'outline',
      steps: [...given, and(`${p.the === 'I' ? 'I was' : `${p.the} ${p.was}`} ${p.done} <elapsed> ago`), { keyword: 'When', text: 'the time is checked' }, { keyword: 'Then', text: `${p.the === 'I' ? 'I am' : `${p.the} ${p.is}`} <state>` }],
      examples: { columns: ['elapsed', 'state'], rows: [[`${fine.n} ${fine.u}`, `still ${p.done}`], [`${fine.m} ${fine.u}`, `no longer ${p.done}`]] },
    };
  }
  const crossing = /^(passes|exceeds|(?:goes|rises|stays|is) (?:above|over)|(?:drops|falls|goes|stays) (?:below|under))$/.test(v.lead);
  if (crossing && trigger) {
    // "when replication lag passes 30 seconds": the measured quantity below, at and beyond the line.
    const up = !/below|under/.test(v.lead);
    const quantity = new RegExp(`^(?:the\\s+)?(.+?)\\s+${v.lead}\\b`, 'i').exec(trigger)?.[1] ?? 'the value';
    const rows = [v.amount - step, v.amount, v.amount + step].map((n) => [formatValue(v, n), (up ? n > v.amount : n < v.amount) ? p.done : `not ${p.done}`]);
    const the = p.the === 'I' ? 'I' : p.the;
    return {
      name: sentenceCase(`${quantity} ${v.raw}`),
      type: 'outline',
      steps: [...given, and(`the ${quantity} is <value>`), { keyword: 'When', text: 'the rule is checked' }, { keyword: 'Then', text: `${the} ${p.the === 'I' ? 'am' : p.is} <result>` }],
      examples: { columns: ['value', 'result'], rows },
    };
  }
  const event = v.family === 'duration' && (v.bound === 'max' || v.bound === 'min') ? new RegExp(`${v.raw.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+of\\s+(?:the\\s+|their\\s+|my\\s+)?([a-z]+)`, 'i').exec(text)?.[1] : undefined;
  if (event) {
    // "return an item within 30 days of delivery": the time since the event, not the item's age.
    const rows = boundaryRows(v).map((r) => [formatValue(v, r.amount), r.inside ? 'accepted' : 'refused']);
    return {
      name,
      type: 'outline',
      steps: [...given, and(`the ${event.toLowerCase()} was <elapsed> ago`), { keyword: 'When', text: `I try to ${p.verb} ${p.object ? p.it : ''}`.trim() }, { keyword: 'Then', text: `${p.the === 'I' ? 'it' : p.the} is <result>` }],
      examples: { columns: ['elapsed', 'result'], rows },
    };
  }
  if (v.family === 'money' && /^(above|over|more than|exceeding|below|under|less than)$/.test(v.lead)) {
    const above = /^(above|over|more than|exceeding)$/.test(v.lead);
    const rows = [v.amount - step, v.amount, v.amount + step].map((n) => [formatValue(v, n), (above ? n > v.amount : n < v.amount) ? 'applies' : 'does not apply']);
    return {
      name,
      type: 'outline',
      steps: [...given, and('the amount is <amount>'), { keyword: 'When', text: system ? 'the rule is checked' : `I ${p.goalThe}` }, { keyword: 'Then', text: 'the rule <result>' }],
      examples: { columns: ['amount', 'result'], rows },
    };
  }
  if (v.family === 'count' && v.bound === 'max' && SHOWING.test(p.verb)) {
    const rows = [v.amount - 1, v.amount, v.amount + 1].map((n) => [String(n), String(Math.min(n, v.amount))]);
    return {
      name,
      type: 'outline',
      steps: [...given, and(`there are <count> ${p.heads}`), { keyword: 'When', text: `I ${p.goalThe}` }, { keyword: 'Then', text: `I see <shown> ${p.heads}` }],
      examples: { columns: ['count', 'shown'], rows },
    };
  }
  return null;
}

export function outlineFor(a: Assessment, p: Phrases, signedIn: string | null): StoryScenario | null {
  const v = a.values[0];
  if (!v) return null;
  const meant = meaningOutline(v, p, signedIn ? [{ keyword: 'Given', text: signedIn }] : [], a.reading.actor === 'system', a.reading.cleaned.text, a.reading.trigger);
  if (meant) return meant;
  const col = column(v);
  const rows = boundaryRows(v);
  const [yes, no] = resultsFor(v, p);
  const cells = rows.map((r) => [v.family === 'count' || v.bound !== 'window' ? formatValue(v, r.amount) : formatValue(v, r.amount), r.inside ? yes : no]);
  const s = subjectOf(p);
  const given: StoryStep[] = [...(signedIn ? [{ keyword: 'Given' as const, text: signedIn }] : [])];
  given.push({ keyword: given.length ? 'And' : 'Given', text: givenFor(v, p, col) });
  const windowCells = v.bound === 'window' ? rows.map((r) => [`${formatValue(v, r.amount)} ${v.family === 'count' ? v.unit : ''}`.trim(), r.inside ? yes : no]) : cells;
  const when = v.bound === 'max' || v.bound === 'min' ? `I try to ${p.verb} ${p.object ? p.it : ''}`.trim() : a.reading.actor === 'system' ? 'the rule is checked' : `I ${p.goalThe}`;
  const subject = v.bound === 'max' || v.bound === 'min' ? (s.the === 'it' ? 'it' : s.the) : s.the;
  return {
    name: sentenceCase(v.raw),
    type: 'outline',
    steps: [...given, { keyword: 'When', text: when }, { keyword: 'Then', text: `${subject} is <result>` }],
    examples: { columns: [col, 'result'], rows: windowCells },
  };
}
