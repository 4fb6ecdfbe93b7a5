import nlp from 'compromise';

/**
 * The English the offline generator needs: part-of-speech tags, verb forms and number agreement,
 * from compromise (a rule-based tagger with a lexicon; no model, no network), plus the few
 * habits of backlog writing it does not know (phrasal verbs, product names in capitals).
 */

export interface Token {
  text: string;
  /** Lower case, punctuation removed. */
  normal: string;
  tags: Set<string>;
  /** In compromise's lexicon or shaped like a name (CSV, PagerDuty, S3): not a made-up word. */
  known: boolean;
  /** Punctuation that followed the word ("," or "."). */
  post: string;
  /** The tagger's confidence in its tags: 1 for a word its lexicon holds, lower for a guess. */
  confidence: number;
}

interface RawTerm {
  text: string;
  normal: string;
  post: string;
  tags: string[];
  confidence?: number;
}

const NAME_SHAPE = /^(?:[A-Z0-9]{2,}s?|[A-Z][a-z]+[A-Z]\w*|\w*\d\w*)$/;

export function tokens(text: string): Token[] {
  // `confidence` is emitted by compromise but missing from its option types.
  const sentences = nlp(text).json({ terms: { normal: true, tags: true, confidence: true } as object }) as Array<{ terms: RawTerm[] }>;
  return sentences.flatMap((s) =>
    s.terms
      .filter((t) => t.text.trim() !== '')
      .map((t) => ({
        text: t.text,
        normal: t.normal,
        tags: new Set(t.tags),
        known: (t.confidence ?? 1) > 0.15 || NAME_SHAPE.test(t.text) || !/[a-z]/i.test(t.text),
        post: t.post.trim(),
        confidence: t.confidence ?? 1,
      })),
  );
}

const IRREGULAR: Record<string, string> = {
  set: 'set', put: 'put', reset: 'reset', read: 'read', shut: 'shut', cut: 'cut', upload: 'uploaded', log: 'logged',
  sign: 'signed', sync: 'synced', submit: 'submitted', unpin: 'unpinned', pin: 'pinned', tag: 'tagged', flag: 'flagged',
  plan: 'planned', ship: 'shipped', roll: 'rolled', show: 'shown', hide: 'hidden', undo: 'undone', redo: 'redone',
};

/** save → saved, take → taken, roll back → rolled back. */
export function pastParticiple(verb: string): string {
  const [head, ...rest] = verb.toLowerCase().trim().split(/\s+/);
  if (!head) return verb;
  let pp = IRREGULAR[head];
  if (!pp) {
    const forms = nlp(head).verbs().conjugate()[0] as Record<string, string> | undefined;
    pp = forms?.Participle ?? forms?.PastTense ?? (head.endsWith('e') ? `${head}d` : `${head}ed`);
  }
  return [pp, ...rest].join(' ');
}

/** roll back → rolls back (for "the system rolls back"). */
export function thirdPerson(verb: string): string {
  const [head, ...rest] = verb.toLowerCase().trim().split(/\s+/);
  if (!head) return verb;
  const forms = nlp(head).verbs().conjugate()[0] as Record<string, string> | undefined;
  const present = forms?.PresentTense ?? (/(s|sh|ch|x|z)$/.test(head) ? `${head}es` : /[^aeiou]y$/.test(head) ? `${head.slice(0, -1)}ies` : `${head}s`);
  return [present, ...rest].join(' ');
}

const COMMON_VERBS = new Set(
  (
    'accept access acknowledge add approve archive assign attach authenticate block book browse build buy calculate cancel ' +
    'change chat check choose clone close comment compare configure confirm connect copy create customise customize deactivate ' +
    'delete deploy disable download drag duplicate edit email enable enter export favourite fetch filter find follow generate ' +
    'get give group hide import install invite join keep label leave like link list load lock log manage mark merge ' +
    'message migrate monitor move mute notify open order pay pin place post preview print publish purchase rate read receive ' +
    'record redeem refund register reject reload remind remove rename reopen reorder reply report request reschedule reserve ' +
    'reset restore retry return review revoke roll rotate save scan schedule search see select sell send set share show sign ' +
    'snooze sort split star start stop store stream submit subscribe suggest switch sync tag track transfer translate turn ' +
    'undo unlock unsubscribe update upgrade upload use verify view vote watch withdraw write fix improve make do handle support ' +
    'display limit allow let enable help track invalidate expire'
  ).split(' '),
);

/** One of the verbs backlogs use most, whatever the tagger makes of it alone ("email", "sync"). */
export function isCommonVerb(word: string): boolean {
  return COMMON_VERBS.has(word.toLowerCase());
}

/** Whether a word can start an instruction ("Acknowledge a PagerDuty alert"): the lexicon, then the tagger in context. */
export function isVerb(word: string): boolean {
  const w = word.toLowerCase();
  if (COMMON_VERBS.has(w)) return true;
  if (!/^[a-z]+$/.test(w) || !tokens(w)[0]?.known) return false;
  const t = tokens(`please ${w} it`)[1];
  return Boolean(t && t.known && t.tags.has('Verb') && !t.tags.has('Modal'));
}

export const PARTICLES = new Set(['up', 'down', 'back', 'out', 'in', 'off', 'on', 'over', 'away']);

/** Phrasal verbs whose particle belongs to the verb, not to what follows. */
const PHRASAL = new Set([
  'roll back', 'log in', 'log out', 'sign in', 'sign up', 'sign out', 'check out', 'check in', 'set up', 'opt out', 'opt in',
  'turn on', 'turn off', 'back up', 'look up', 'clean up', 'follow up', 'switch on', 'switch off', 'top up', 'pay out',
  'print out', 'fill in', 'fill out', 'scale up', 'scale down', 'shut down', 'start over', 'hand over', 'give back', 'write off',
]);

export function isPhrasal(verb: string, particle: string): boolean {
  return PHRASAL.has(`${verb.toLowerCase()} ${particle.toLowerCase()}`);
}

export function isPluralNoun(phrase: string): boolean {
  const words = phrase.trim().split(/\s+/);
  const head = words[words.length - 1] ?? '';
  if (/^(data|news|media|settings|analytics|metrics|logs|credentials|details|notes|results|items)$/i.test(head)) return /s$/i.test(head) && head.toLowerCase() !== 'data' && head.toLowerCase() !== 'news';
  if (/\band\b/i.test(phrase)) return true;
  const t = tokens(phrase).at(-1);
  if (t?.tags.has('Plural')) return true;
  if (t?.tags.has('Singular') || t?.tags.has('Uncountable')) return false;
  return /[^su]s$/i.test(head);
}

export function be(plural: boolean): string {
  return plural ? 'are' : 'is';
}

export function article(word: string): string {
  // The sound decides: "a user", "a European", "an hour", "an SSO login"; spelling approximates it.
  if (/^[A-Z]{2,}/.test(word)) return /^[AEFHILMNORSX]/.test(word) ? 'an' : 'a';
  if (/^(u[bcdfgklnprst][aeiou]|eu|one\b|uni|use)/i.test(word)) return 'a';
  if (/^(hour|honest|heir)/i.test(word)) return 'an';
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export function sentenceCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A phrase placed inside a step or narrative line: one line, no stray Gherkin syntax. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/"""|```/g, '"').replace(/\s+/g, ' ').trim();
}

const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  fifteen: 15, twenty: 20, thirty: 30, fifty: 50, hundred: 100, once: 1, twice: 2, a: 1, an: 1,
};

export function numberValue(word: string): number | undefined {
  const n = Number(word.replace(/,/g, ''));
  if (Number.isFinite(n) && word.trim() !== '') return n;
  return NUMBER_WORDS[word.toLowerCase()];
}
