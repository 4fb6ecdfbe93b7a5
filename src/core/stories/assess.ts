import { detectAll } from 'tinyld';
import { readDescription, type Reading } from '../ai/narrative.js';
import { findValues, type NamedValue } from './values.js';
import { article } from '../ai/english.js';

/**
 * Decides whether a text is a feature description at all, and measures what it gives a story to
 * stand on. Refused: gibberish and placeholders, a bare verb ("fix it"), text with no action
 * ("dark mode"), and — for the offline generator, which reads English only — other languages.
 * A refusal says what is missing and shows an example, so the person can fix it in place.
 */

export type RefusalReason = 'empty' | 'gibberish' | 'no_action' | 'bare_verb' | 'vague' | 'language';

export interface Refusal {
  reason: RefusalReason;
  /** What is missing, said to the person who wrote it. */
  missing: string;
  /** A good description, built from their own words where possible. */
  example: string;
}

export interface Signals {
  /** Share of words that are English words or names (CSV, PagerDuty). */
  known: number;
  /** 1: an action on something concrete; 0.5: an action on something vague; 0: none. */
  action: number;
  role: boolean;
  benefit: boolean;
  /** Concrete words beyond the verb (nouns, adjectives, values, modifiers), 0..1. */
  detail: number;
  /** Vague words ("better", "stuff", "improve") found. */
  vague: string[];
  /** More than one unrelated goal. */
  compound: boolean;
  markup: boolean;
  injection: boolean;
  values: number;
}

export interface Assessment {
  reading: Reading;
  values: NamedValue[];
  /** ISO 639-1 code; "en" unless another language is clear. */
  language: string;
  signals: Signals;
  refusal: Refusal | null;
}

export const GOOD_EXAMPLE = 'As an accountant I want to export the monthly invoice list as CSV so that I can import it into our bookkeeping tool.';

const PLACEHOLDER = /^(lorem ipsum\b.*|test(ing)?|todo|tbd|n\/?a|xxx+|foo|bar|baz|hello|hi|asdf\w*|qwerty\w*|[.?!\-_]+|\d+)$/i;
const PRONOUN_OR_VAGUE = /^(it|this|that|them|these|those|something|anything|everything|stuff|things?|all|one|some|more|better|worse|faster|nicer|easier|work|working|again|now|up|out|please|asap|the|a|an|my|our)$/i;
const VAGUE = /\b(better|improve[ds]?|improvements?|enhance[ds]?|enhancements?|optimi[sz]e[ds]?|nicer|easier|faster|slicker|cleaner|stuff|things|etc|various|somehow|properly|user[- ]friendly|intuitive|seamless(?:ly)?|modern(?:ise|ize)?|robust|good|great|nice|some issues?|the bug|bugs|issues|work better|revamp|rework|polish)\b/gi;
const OUTCOME_VERBS = /^(get|receive|see|keep|have|be|know)$/;

function words(text: string): string[] {
  return text.split(/\s+/).map((w) => w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '')).filter(Boolean);
}

function languageOf(text: string, reading: Reading): string {
  const lower = reading.tokens.filter((t) => /^\p{Ll}+$/u.test(t.text));
  const known = lower.length ? lower.filter((t) => t.known).length / lower.length : 1;
  if (/[\p{Script=Cyrillic}\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Greek}\p{Script=Hangul}\p{Script=Thai}\p{Script=Devanagari}]/u.test(text)) {
    return detectAll(text)[0]?.lang ?? 'und';
  }
  if (known >= 0.75) return 'en';
  const top = detectAll(text)[0];
  // Latin placeholder text is not a language anyone writes a backlog in.
  return top && top.lang !== 'en' && top.lang !== 'la' && top.accuracy >= 0.5 ? top.lang : 'en';
}

function knownShare(reading: Reading): number {
  const alpha = reading.tokens.filter((t) => /\p{L}/u.test(t.text));
  if (!alpha.length) return 0;
  return alpha.filter((t) => t.known).length / alpha.length;
}

/** What "I want …" asks for when it is a thing rather than an action: "dark mode". */
function wantedThing(text: string): string | undefined {
  const m = /\b(?:i|we)\s+(?:want|need|would like)\s+(?!to\b)(.+?)(?=\s*(?:,?\s*so\s+that|,?\s*so\s+i\b|,?\s*in\s+order\s+to|,?\s*because)\b|[.;!?]|$)/i.exec(text);
  const thing = m?.[1]?.trim();
  return thing && thing.split(/\s+/).length <= 8 ? thing : undefined;
}

/** A good description, built from their own words: their role, the thing, their reason. */
function example(reading: Reading, nounHint: string): string {
  const role = reading.role ?? 'user';
  const why = reading.benefit ? `so that ${reading.benefit}` : 'so that <why it matters>';
  if (nounHint) return `As ${article(role)} ${role} I want to <do what?> ${nounHint} ${why}. For example: ${GOOD_EXAMPLE}`;
  return `For example: ${GOOD_EXAMPLE}`;
}

/** Social messages and status talk: thanks, greetings, congratulations, apologies. */
const CHAT = /^(?:thanks?(?: you)?|thx|ty|cheers|congrats|congratulations|happy \w+|hi|hey|hello|good (?:morning|afternoon|evening|night)|sorry|lol|ok(?:ay)?|great (?:job|work)|nice (?:job|work)|well done|see you)\b/i;

/** Verbs that ask for a quality to change, not for something to be done: "improve", "revamp". */
const QUALITY_VERB = /^(improve|enhance|optimi[sz]e|moderni[sz]e|revamp|streamline|rework|overhaul|refresh|redesign|polish|boost|increase|raise|reduce|lower|grow|maximi[sz]e|minimi[sz]e|simplify|rethink|transform|elevate|better)$/;
/** Verbs of how people feel about something: nothing a tester can observe. */
const ATTITUDE_VERB = /^(trust|like|love|enjoy|prefer|appreciate|feel|value|adore|embrace|understand)$/;
/** Verbs that name a means, checkable only through what the means is for: "use AI to improve conversion". */
const MEANS_VERB = /^(use|leverage|adopt|introduce|harness|employ|utili[sz]e)$/;
/** Verbs that set a state: checkable only when the state is ("sortable by date"), not a judgement ("smarter"). */
const STATE_VERB = /^(make|be|become|feel|get|keep|look|seem|stay|render)$/;
const JUDGEMENT = /\b(more|less|smart|smarter|clean|cleaner|intuitive|useful|modern|nice|nicer|good|great|easy|easier|simple|simpler|friendly|user-friendly|fast|faster|slick|pretty|beautiful|engaging|powerful|flexible|efficient|reliable|awesome|delightful|seamless|data-driven|customer-centric|innovative|better|best|lean|agile|fun|appealing|attractive|polished|professional|smooth|snappy|consistent)\b/i;

/**
 * Vagueness judged by what could be checked: a story needs an object and an outcome someone
 * could observe. A verb that asks for a quality ("improve", "revamp"), a feeling ("trust",
 * "love"), a means aimed at a quality ("use AI to improve conversion"), or a state that is a
 * judgement ("make the dashboard smarter") gives neither, unless a value makes it measurable.
 */
function uncheckable(reading: Reading, text: string): string | null {
  const a = reading.action!;
  if (findValues(text).length || /\d/.test(a.text)) return null;
  const head = a.verb.split(' ')[0]!.toLowerCase();
  const rest = [a.object, ...a.modifiers].join(' ');
  if (QUALITY_VERB.test(head)) return `"${a.verb}" asks for ${a.object ? `${a.object} to get better` : 'something to get better'} without saying what would be different.`;
  if (ATTITUDE_VERB.test(head)) return `"${a.verb}" is how people feel about ${a.object || 'it'}, which no test can observe.`;
  if (MEANS_VERB.test(head) && /\bto\s+(\w+)/i.test(rest) && QUALITY_VERB.test(/\bto\s+(\w+)/i.exec(rest)![1]!.toLowerCase())) return `it names a means (${a.object}) and a wish for a number to move, but no change anyone could see.`;
  if (STATE_VERB.test(head) && JUDGEMENT.test(rest)) return `"${a.text}" is a judgement, not an outcome.`;
  return null;
}

function refusalFor(reading: Reading, known: number, language: string, text: string, raw: string): Refusal | null {
  const w = words(text);
  if (w.length === 0) {
    if (!raw.trim()) return { reason: 'empty', missing: 'The description is empty: say who wants what, and why.', example: example(reading, '') };
    if (reading.cleaned.injection) return { reason: 'no_action', missing: 'This reads as instructions to a language model, not as a feature: what should someone be able to do?', example: example(reading, '') };
    return { reason: 'gibberish', missing: 'There are no words here once markup is taken out.', example: example(reading, '') };
  }
  if (language !== 'en') {
    return {
      reason: 'language',
      missing: `This reads as another language (${language}); the offline generator reads English only. Write it in English, or set ANTHROPIC_API_KEY to use Claude.`,
      example: example(reading, ''),
    };
  }
  if (PLACEHOLDER.test(text.trim()) || known < 0.5) {
    return { reason: 'gibberish', missing: 'This does not read as a description: most of its words are not words.', example: example(reading, '') };
  }
  const action = reading.action;
  if (!action && !reading.requirement) {
    const wanted = wantedThing(text);
    const noun = wanted ?? (w.length <= 6 ? w.join(' ') : '');
    const who = reading.role ? `${article(reading.role)} ${reading.role}` : 'someone';
    return {
      reason: 'no_action',
      missing: noun
        ? `"${noun}" names a thing, not an action: what should ${who} be able to do with ${noun}? A story's steps need a verb.`
        : 'There is no action here: what should someone be able to do?',
      example: example(reading, noun),
    };
  }
  const chat = CHAT.exec(text.trim()) ?? (/\?\s*$/.test(text) && !/^(can|could|would|will)\s+(we|you|i|users?|people)\b/i.test(text.trim()) ? /^.*$/.exec(text.trim()) : null);
  if (chat) {
    return { reason: 'no_action', missing: `This reads as a chat message ("${chat[0].trim()}"), not a feature request: what should someone be able to do that they cannot today?`, example: example(reading, '') };
  }
  const unchecked = action ? uncheckable(reading, text) : null;
  if (unchecked) {
    return {
      reason: 'vague',
      missing: `Nothing here could be checked: ${unchecked} Say what someone should be able to do, on what, and what they would see when it works.`,
      example: example(reading, action?.object && words(action.object).length <= 5 ? action.object : ''),
    };
  }
  if (action) {
    const objectWords = words(action.object).filter((x) => !PRONOUN_OR_VAGUE.test(x));
    const context = action.modifiers.some((m) => words(m).some((x) => !PRONOUN_OR_VAGUE.test(x) && x.length > 2)) || reading.trigger || reading.role;
    if (objectWords.length === 0 && !context) {
      return {
        reason: 'bare_verb',
        missing: `"${text.trim()}" says what to do but not to what, for whom or why.`,
        example: example(reading, ''),
      };
    }
  }
  return null;
}

export function assessDescription(description: string): Assessment {
  const reading = readDescription(description);
  const text = reading.cleaned.text;
  const known = knownShare(reading);
  const language = languageOf(text, reading);
  const values = findValues(text);
  // "Lock accounts after 5 failed login attempts": a rule the product applies by itself.
  if (reading.actor === 'person' && !reading.trigger && values.some((v) => v.bound === 'after') && !/\b(i|we)\s+(want|need|would)|^(let|allow|enable)\b/i.test(text)) {
    reading.actor = 'system';
  }
  const refusal = refusalFor(reading, known, language, text, description);
  const action = reading.action;
  const objectConcrete = action ? words(action.object).some((x) => !PRONOUN_OR_VAGUE.test(x)) || action.modifiers.length > 0 || Boolean(reading.trigger) : false;
  // Vague words count in what is asked for, not in the reason given ("so that I can answer faster").
  const asked = reading.benefit ? text.replace(/\b(so that|so|in order to|because)\b.*$/i, '') : text;
  const vague = [...new Set([...asked.matchAll(VAGUE)].map((m) => m[0].toLowerCase()))];
  const content = reading.tokens.filter((t) => (t.tags.has('Noun') || t.tags.has('Adjective') || t.tags.has('Value')) && !t.tags.has('Pronoun') && t.known);
  const compound = reading.more.some((m) => !OUTCOME_VERBS.test(m.verb)) || text.split(/[.;!?]\s+/).filter((s) => /\b(also|additionally|plus)\b/i.test(s)).length > 0;
  return {
    reading,
    values,
    language,
    refusal,
    signals: {
      known,
      action: refusal ? 0 : action ? (objectConcrete ? (vague.length ? 0.5 : 1) : 0.5) : reading.requirement ? 0.8 : 0,
      role: Boolean(reading.role),
      benefit: Boolean(reading.benefit),
      detail: Math.min(1, (content.length + values.length) / 6),
      vague,
      compound,
      markup: reading.cleaned.markup,
      injection: reading.cleaned.injection,
      values: values.length,
    },
  };
}
