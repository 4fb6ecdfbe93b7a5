import type { Action } from '../ai/narrative.js';
import { article, be, pastParticiple, thirdPerson, tokens } from '../ai/english.js';

/**
 * The noun phrases and clauses a story repeats, with agreement and articles right: "the old
 * projects were already archived", "a PagerDuty alert is open" then "the PagerDuty alert".
 */

export interface Phrases {
  verb: string;
  /** Past participle of the verb: "archived", "rolled back". */
  done: string;
  /** The object as written ("old projects"), "" when there is none. */
  object: string;
  /** Definite: "the old projects", "my subscription", "the PagerDuty alert". */
  the: string;
  /** Indefinite, for introducing it: "old projects", "a subscription", "a PagerDuty alert". */
  some: string;
  /** "it" or "them". */
  it: string;
  plural: boolean;
  /** is / are, was / were, has / have for the object. */
  is: string;
  was: string;
  /** Head noun, singular and plural: "project", "projects". */
  head: string;
  heads: string;
  /** The object is the speaker ("notify me"). */
  self: boolean;
  /** The whole action with the object made definite: "archive the old projects". */
  goalThe: string;
  goal: string;
  /** The object is the speaker's own ("my subscription"). */
  mine: boolean;
  /** "which tests are flaky": the question's noun is head, and "is flaky" its state. */
  wh: { state: string } | null;
  /** A file format named in the description: "CSV", "PDF". */
  format: string | null;
}

const FORMATS = /\b(CSV|PDF|XLSX|Excel|JSON|XML|ZIP|PNG|JPE?G|ICS|Markdown|HTML|TXT)\b/i;
const DETERMINER = /^(a|an|the|my|our|your|their|his|her|its|this|that|these|those|every|each|all|any|some)\s+/i;

function singularWord(w: string): string {
  if (/ies$/i.test(w)) return w.replace(/ies$/i, 'y');
  if (/(ss|us|is)$/i.test(w)) return w;
  if (/(ches|shes|xes|ses)$/i.test(w)) return w.slice(0, -2);
  return w.replace(/s$/i, '');
}

function pluralWord(w: string): string {
  if (/[^aeiou]y$/i.test(w)) return `${w.slice(0, -1)}ies`;
  if (/(s|sh|ch|x|z)$/i.test(w)) return `${w}es`;
  return `${w}s`;
}

/** The head noun of a phrase: "the monthly invoice list" → "list"; "which tests are flaky" → "tests". */
export function headNoun(phrase: string): string {
  const toks = tokens(phrase.replace(/\bof\b.*$/i, ''));
  const wh = toks.findIndex((t) => t.tags.has('QuestionWord'));
  if (wh >= 0) return toks.slice(wh + 1).find((t) => t.tags.has('Noun'))?.text ?? 'item';
  const nouns = toks.filter((t) => t.tags.has('Noun') && !t.tags.has('Pronoun') && !t.tags.has('Possessive'));
  return nouns.at(-1)?.text ?? toks.at(-1)?.text ?? 'item';
}

export function phrasesFor(action: Action): Phrases {
  const object = action.object;
  const plural = object ? action.objectPlural : false;
  const self = /^(me|myself|us)$/i.test(object);
  const bare = object.replace(DETERMINER, '');
  const determiner = DETERMINER.exec(object)?.[1]?.toLowerCase();
  let the = object;
  let some = object;
  const wh = /^(which|what)\s+([\w-]+)\s+(?:are|is)\s+(.+)$/i.exec(object);
  if (wh) {
    the = object;
    some = object;
  } else if (!object) {
    the = 'it';
    some = 'it';
  } else if (self) {
    the = 'I';
    some = 'I';
  } else if (!determiner || ['a', 'an', 'this', 'that', 'these', 'those', 'every', 'each', 'all', 'any', 'some'].includes(determiner)) {
    the = `the ${bare}`;
    some = plural ? bare : `${article(bare)} ${bare}`;
  } else if (['my', 'our', 'your', 'their', 'his', 'her', 'its'].includes(determiner)) {
    some = plural ? bare : `${article(bare)} ${bare}`;
  } else {
    some = plural ? bare : `${article(bare)} ${bare}`;
  }
  let head = object ? headNoun(object) : 'item';
  const whPlural = wh ? /s$/i.test(wh[2]!) : false;
  // "the monthly invoice list" holds invoices: the rows of a container are what can be missing.
  const container = /^(list|report|table|overview|history|log|summary|feed|page|dashboard|view|queue|backlog)$/i;
  const before = object.split(/\s+/);
  const inner = before[before.indexOf(head) - 1];
  const innerHeads = container.test(head) && inner && !/^(the|a|an|my|our|monthly|weekly|daily|yearly|annual|full|new|old)$/i.test(inner) ? pluralWord(inner) : null;
  // A modifier naming a value ("up to 5 MB") is left to the outline's examples, not repeated in every step.
  const modifiers = action.modifiers.filter((m) => !/\b(up to|at most|at least|no more than|after|within|older than|for|(?:the )?(?:last|past)|every|max(?:imum)?|min(?:imum)?|less than|more than|under|over)\s+(\d|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty)/i.test(m));
  const goalThe = [action.verb, the === 'I' ? 'me' : object ? the : '', ...modifiers].filter(Boolean).join(' ');
  return {
    verb: action.verb,
    done: pastParticiple(action.verb),
    object,
    the,
    some,
    it: self ? 'me' : plural ? 'them' : 'it',
    plural,
    is: self ? 'am' : be(plural),
    was: self || !plural ? 'was' : 'were',
    head: plural || whPlural ? singularWord(head) : head,
    heads: innerHeads ?? (plural || whPlural ? head : pluralWord(head)),
    mine: determiner === 'my' || determiner === 'our',
    wh: wh ? { state: `is ${wh[3]}` } : null,
    self,
    goalThe,
    goal: action.text,
    format: FORMATS.exec(action.modifiers.join(' ') + ' ' + object)?.[1]?.toUpperCase() ?? null,
  };
}

/** "a deploy fails" → { given: "a deploy is in progress", when: "the deploy fails" }. */
export function triggerSteps(trigger: string): { given: string | null; when: string } {
  const m = /^(a|an|the|any|every|each)?\s*([\w\s-]+?)\s+(fails|breaks|crashes|times out|errors|stops|goes down|is down|is rejected|expires|succeeds|finishes|completes|is merged|is opened|is created|is deployed|starts)\b(.*)$/i.exec(trigger);
  if (!m) return { given: null, when: trigger.replace(/^(a|an|any|every|each)\s+/i, 'the ') };
  const noun = m[2]!.trim();
  const running = /fails|breaks|crashes|times out|errors|stops|goes down|is down|is rejected|succeeds|finishes|completes/i.test(m[3]!);
  return {
    given: running ? `${article(noun)} ${noun} is in progress` : null,
    when: `the ${noun} ${m[3]}${m[4] ?? ''}`.trim(),
  };
}

/** What the system does, in the third person: "the system rolls back automatically". */
export function systemDoes(action: Action): string {
  return ['the system', thirdPerson(action.verb), action.object, ...action.modifiers].filter(Boolean).join(' ');
}

export { singularWord, pluralWord };
