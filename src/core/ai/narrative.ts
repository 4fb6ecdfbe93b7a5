import { cleanDescription, type CleanedDescription } from '../stories/clean.js';
import nlp from 'compromise';
import { isCommonVerb, isPhrasal, isPluralNoun, isVerb, PARTICLES, tokens, type Token } from './english.js';

/**
 * Reads a feature description the way a product owner would: who asks (role), what they want to
 * do (an action: a verb, what it acts on, and how), why (benefit), and on what trigger when the
 * system acts by itself ("When a deploy fails, roll back automatically"). Nothing is invented:
 * a part the description does not state is null, and the story and its score say so.
 */

export interface Action {
  /** The verb in its base form, with its particle: "export", "roll back". */
  verb: string;
  /** What the verb acts on, as written: "the monthly invoice list", "my subscription". */
  object: string;
  objectPlural: boolean;
  /** Phrases that say how, where, for whom: "as CSV", "for accounting", "at any time". */
  modifiers: string[];
  /** The whole phrase: "export the monthly invoice list as CSV for accounting". */
  text: string;
  /** A bound said before the object ("up to 8" in "show up to 8 recent orders"): kept out of the object. */
  quantity?: string;
}

export interface Reading {
  cleaned: CleanedDescription;
  /** Singular, as stated: "admin", "support agent". Null when the description names nobody. */
  role: string | null;
  /** First person, as stated: "I can buy later". Null when not stated. */
  benefit: string | null;
  action: Action | null;
  /** Further actions joined with "and": "get a refund" in "cancel … and get a refund". */
  more: Action[];
  /** The event a system reaction waits for: "a deploy fails". */
  trigger: string | null;
  /** "system" when the description asks the product to act by itself. */
  actor: 'person' | 'system';
  /** A requirement on things rather than an action ("Every image to have alt text"). */
  requirement: { subject: string; subjectPlural: boolean; property: string } | null;
  tokens: Token[];
}

const ROLE_RE = /\bas an?\s+([^,.;]+?)(?:,|\s+(?=(?:i|we)\s))/i;
const GOAL_RE = /\b(?:i|we)\s+(?:really\s+)?(?:want|would like|'d like|need|wish|should be able|must be able|expect)\s+(?:to\s+be\s+able\s+to\s+|to\s+)?(.+?)(?=\s*(?:,?\s*so\s+that|,?\s*so\s+i\b|,?\s*in\s+order\s+to|,?\s*because)\b|[.;!?]|$)/i;
const BENEFIT_RE = /\b(?:so\s+that|so(?=\s+(?:i|we|they|my|our)\b)|in\s+order\s+to|because)\s+(.+?)(?:[.;!?]|$)/i;
const LOOSE_ROLE_RE = /^(?:please\s+)?(?:let|allow|enable|help)\s+(?:the\s+|our\s+|all\s+)?([\w-]+(?:\s+[\w-]+)?)\s+(?:to\s+)?(.+)$/i;
const SUBJECT_ROLE_RE = /^(?:the\s+|our\s+|all\s+)?([\w-]+(?:\s+[\w-]+)?)\s+(?:should|must|can|could|need to|needs to|want to|wants to|would like to|have to|has to)\s+(?:be\s+able\s+to\s+)?(.+)$/i;
const CONDITION_RE = /^(?:when|whenever|if|once|after)\s+(.+?),\s*(?:then\s+)?(.+)$/i;
const REQUIREMENT_RE = /^((?:every|each|all|any)\s+[\w\s-]+?)\s+(?:to|should|must|shall|need to|needs to)\s+(have|be|show|include|contain)\s+(.+)$/i;
const RULE_RE = /^((?:the\s+)?[\w-]+(?:\s+[\w-]+)?)\s+(?:should|must|shall|need to|needs to)\s+(?:always\s+)?(have|be|show|include|contain)\s+(.+)$/i;
const LEAD_IN_RE = /^(?:(?:the\s+)?(?:ability|option|possibility|way)\s+(?:for\s+[\w\s]+?\s+)?to|it should be possible to|make it possible to|support for|please|can we|could we|can you|could you|we should|we need to|i want to|need to)\s+/i;

const ROLE_NOUNS = new Set(
  (
    'user admin administrator customer shopper developer manager visitor member editor owner operator guest buyer seller ' +
    'author reader student teacher patient engineer reviewer tester player accountant approver maintainer subscriber ' +
    'moderator agent lead designer analyst tenant host driver rider doctor nurse employee candidate recruiter writer ' +
    'contributor viewer participant organiser organizer attendee traveller traveler client partner vendor supplier merchant'
  ).split(' '),
);

function clean(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/^[\s,;:-]+|[\s,;:.!?-]+$/g, '').trim();
}

function singular(role: string): string {
  const words = role.split(' ');
  const last = words[words.length - 1]!;
  if (/ies$/i.test(last)) words[words.length - 1] = last.replace(/ies$/i, 'y');
  else if (/(ss|us)$/i.test(last)) return words.join(' ');
  else if (/s$/i.test(last)) words[words.length - 1] = last.slice(0, -1);
  return words.join(' ');
}

/** "support agents" → "support agent" when the last word is a role noun. */
function asRole(candidate: string): string | null {
  const words = candidate.toLowerCase().split(' ');
  const last = singular(words[words.length - 1]!);
  if (!ROLE_NOUNS.has(last)) return null;
  return singular(candidate.toLowerCase());
}

/** "I can buy later" from "so that I can buy later"; "I can answer faster" from "in order to answer faster". */
function firstPersonBenefit(m: RegExpExecArray | null, text: string): string | null {
  if (!m) return null;
  const b = clean(m[1]!).replace(/\b(their|his|her|his or her|his\/her)\b/gi, 'my');
  if (!b) return null;
  const lead = text.slice(m.index, m.index + 12).toLowerCase();
  if (lead.startsWith('in order to')) return `I can ${b}`;
  return b.replace(/^i\b/, 'I');
}

const COMMON_VERB_FORMS = /^(access|process|address|focus|pass|press|cross|dismiss|discuss|express|bypass|harass)$/;

const QUANTITY_TAIL = /^(?:up to|at most|at least|more than|less than|fewer than|no more|no less|not more|up until|of up|for up|between up|to \d)/;

const BOUNDARY_WORDS = new Set(['when', 'whenever', 'if', 'so', 'because', 'once', 'unless', 'while', 'before', 'after', 'until']);

/** Splits "export the monthly invoice list as CSV for accounting" into verb, object and modifiers. */
export function readAction(phrase: string, afterTo = false): { action: Action; rest: string; trigger: string | null } | null {
  let text = clean(phrase).replace(LEAD_IN_RE, '').replace(/^to\s+/i, '');
  text = text.replace(/\b(their|his|her|his or her|his\/her)\b/gi, 'my');
  const toks = tokens(text);
  if (toks.length === 0) return null;
  let first = toks[0]!;
  let verb = first.normal;
  if (first.tags.has('Gerund') || /ing$/.test(verb)) {
    const base = verb.replace(/ing$/, '');
    verb = isVerb(base) ? base : isVerb(`${base}e`) ? `${base}e` : verb;
  }
  // After "I want to" the next word is a verb by construction ("bookmark", "star"), if it is a word at all.
  if (!(isVerb(verb) || (afterTo && /^[a-z]{3,}$/.test(verb)) || imperativeVerb(toks)) || first.tags.has('Modal')) return null;
  // "Is the release still on?", "Does it work?": a question or a statement, not an instruction.
  if (!afterTo && (first.tags.has('Copula') || /^(is|are|was|were|am|does|did|has|had)$/.test(verb))) return null;
  // "expired coupons removed every night": a past form is not the verb of an instruction.
  if (!afterTo && first.tags.has('PastTense') && !first.tags.has('Infinitive') && /ed$/.test(first.normal)) return null;
  // "Thanks, that worked": a third-person or plural form is not the bare verb of an instruction.
  if (!afterTo && /[^s]s$/.test(verb) && !COMMON_VERB_FORMS.test(verb) && first.tags.has('PresentTense') && !first.tags.has('Infinitive')) return null;
  let i = 1;
  // "get notified by email": the passive names the real verb, and the speaker is its object.
  if ((verb === 'get' || verb === 'be') && toks[1]?.tags.has('Verb') && /ed$|en$/.test(toks[1].normal)) {
    const base = nlp(toks[1].normal).verbs().toInfinitive().text();
    if (base && isVerb(base)) {
      const rest = toks.slice(2).map((t) => t.text).join(' ');
      const r = readAction(`${base} me ${rest}`);
      // Steps use the active verb ("I am notified"); the title and narrative keep the person's words.
      if (r) return { ...r, action: { ...r.action, text: clean(`${toks[0]!.text.toLowerCase()} ${toks[1].text} ${r.action.modifiers.join(' ')}`) } };
    }
  }
  const next = toks[1];
  // "show up to 8 orders": "up to <number>" bounds the object; it is not the particle of "show up".
  const bounding = next && QUANTITY_TAIL.test(`${next.normal} ${toks[2]?.normal ?? ''}`) && toks[3]?.tags.has('Value');
  if (next && !bounding && PARTICLES.has(next.normal) && isPhrasal(verb, next.normal)) {
    verb = `${verb} ${next.normal}`;
    i = 2;
  }
  first = toks[i - 1]!;
  const words = (from: number, to: number) => toks.slice(from, to).map((t) => t.text).join(' ');
  // The object: determiners, adjectives, nouns, numbers, "of" phrases, nouns joined by "and".
  let j = i;
  let quantity: string | undefined;
  const q = /^(up to|at most|at least|no more than|more than|fewer than|less than)\s+(\S+)\s/i.exec(`${words(i, toks.length)} `);
  if (q && toks.slice(i).some((t, k) => k < 4 && t.tags.has('Value'))) {
    const n = q[0].trim().split(/\s+/).length;
    quantity = words(i, i + n);
    j = i + n;
  }
  const objectStart = j;
  if (toks[j]?.tags.has('QuestionWord')) {
    // "see which tests are flaky": the clause is the object, up to its first preposition.
    j++;
    while (j < toks.length && !toks[j]!.tags.has('Preposition') && !toks[j - 1]!.post.match(/[,.;]/)) j++;
  } else {
    while (j < toks.length) {
      const t = toks[j]!;
      if (j > i && /[,.;:!?]/.test(toks[j - 1]!.post)) break;
      if (BOUNDARY_WORDS.has(t.normal)) break;
      if (t.tags.has('Preposition') && t.normal !== 'of') break;
      if (t.normal === 'to') break;
      if (t.tags.has('Adverb') && !t.tags.has('Adjective')) break;
      if (j > i && /^(every|each|per)$/.test(t.normal)) break;
      // "projects inactive for 90 days": an adjective after the noun starts a modifier.
      if (j > i && t.tags.has('Adjective') && !t.tags.has('Noun') && toks[j - 1]!.tags.has('Noun') && toks[j + 1]?.tags.has('Preposition')) break;
      if ((t.normal === 'and' || t.normal === 'or') && toks[j + 1] && (/^(also|then|too)$/.test(toks[j + 1]!.normal) || (isVerb(toks[j + 1]!.normal) && !toks[j + 1]!.tags.has('Noun')))) break;
      // "merge duplicate contacts in the CRM": after the imperative's verb, an "-s" word between a noun and a preposition is a plural noun, not a second verb.
      const pluralNoun = /[^s]s$/.test(t.normal) && t.tags.has('PresentTense') && (toks[j - 1]!.tags.has('Noun') || toks[j - 1]!.tags.has('Adjective')) && (!toks[j + 1] || toks[j + 1]!.tags.has('Preposition') || BOUNDARY_WORDS.has(toks[j + 1]!.normal));
      if (t.tags.has('Verb') && !t.tags.has('Noun') && !t.tags.has('Adjective') && j > i && !t.tags.has('Participle') && !toks[j - 1]!.tags.has('Value') && !pluralNoun) break;
      j++;
    }
  }
  const object = words(objectStart, j).replace(/\s+(and|or)$/i, '');
  let rest = words(j, toks.length);
  let trigger: string | null = null;
  const cond = /\b(?:when|whenever|if|once)\s+(.+)$/i.exec(rest);
  if (cond) {
    trigger = clean(cond[1]!);
    rest = rest.slice(0, cond.index).replace(/\b(even|only|just|also|especially)\s*$/i, '');
  }
  const andVerb = /^(.*?)\s*,?\s*\b(?:and|then)\s+(?:also\s+)?(\w+\b.*)$/i.exec(rest);
  let more = '';
  if (andVerb && isVerb(andVerb[2]!.split(' ')[0]!)) {
    more = andVerb[2]!;
    rest = andVerb[1]!;
  }
  const modifiers = splitModifiers(rest);
  const actionText = clean([verb, quantity, object, ...modifiers].filter(Boolean).join(' '));
  return {
    action: { verb, object: clean(object), objectPlural: object ? isPluralNoun(object) : false, modifiers, text: actionText, ...(quantity && { quantity }) },
    rest: more,
    trigger,
  };
}

/**
 * A word that is a noun as often as a verb ("Bill customers monthly", "Page the on-call
 * engineer", "Queue print jobs"): read in imperative position, with the whole sentence after it.
 * Put after a subject ("we bill customers monthly") the tagger decides from the sentence; it is a
 * verb when its lexicon knows it as a base-form verb there (not a guess) and what follows starts a noun phrase.
 */
function imperativeVerb(toks: Token[]): boolean {
  const [first, second] = toks;
  if (!first || !second || !/^[a-z]{3,}$/.test(first.normal) || /[,.;:!?]/.test(first.post)) return false;
  const retagged = tokens(`we ${first.normal} ${toks.slice(1).map((t) => `${t.text}${t.post}`).join(' ')}`);
  const verb = retagged[1];
  const next = retagged[2];
  if (!verb || !next || verb.confidence < 0.5 || !verb.tags.has('Infinitive') || verb.tags.has('Modal') || verb.tags.has('Auxiliary')) return false;
  return ['Determiner', 'Noun', 'Adjective', 'Possessive', 'Value', 'Pronoun'].some((tag) => next.tags.has(tag)) && !next.tags.has('Verb');
}

function splitModifiers(rest: string): string[] {
  const toks = tokens(clean(rest));
  const units: string[] = [];
  let cur: string[] = [];
  for (const [k, t] of toks.entries()) {
    // "for up to 12 people", "at most 5 books", "more than 40 stops": a quantity is one phrase with what it bounds.
    const inQuantity = k > 0 && QUANTITY_TAIL.test(`${toks[k - 1]!.normal} ${t.normal}`);
    const starts = !inQuantity && ((t.tags.has('Preposition') && t.normal !== 'of') || (t.tags.has('Adverb') && !t.tags.has('Adjective')));
    if (starts && cur.length) {
      units.push(cur.join(' '));
      cur = [];
    }
    cur.push(t.text);
  }
  if (cur.length) units.push(cur.join(' '));
  // A lone adjective belongs to the phrase after it: "inactive" + "for 90 days".
  const merged: string[] = [];
  for (const u of units.map(clean).filter(Boolean)) {
    const prev = merged[merged.length - 1];
    if (prev && !prev.includes(' ') && tokens(prev)[0]?.tags.has('Adjective')) merged[merged.length - 1] = `${prev} ${u}`;
    else merged.push(u);
  }
  return merged;
}

function readActions(phrase: string, afterTo = false): { actions: Action[]; trigger: string | null } {
  const actions: Action[] = [];
  let trigger: string | null = null;
  let text = phrase;
  for (let k = 0; k < 3 && text; k++) {
    const r = readAction(text, afterTo && k === 0);
    if (!r) break;
    actions.push(r.action);
    trigger ??= r.trigger;
    text = r.rest;
  }
  return { actions, trigger };
}

/**
 * "I want flaky tests flagged" says the action after its object: "flag flaky tests". Only a final
 * past participle of a known verb is turned round; anything else stays as written.
 */
function objectComplement(goal: string): string | undefined {
  // The object is a noun phrase (no verb in it); the participle after it carries the action, and
  // whatever follows ("when a user changes their password", "every Monday") stays with it.
  const toks = tokens(goal);
  for (let k = 1; k < Math.min(toks.length, 8); k++) {
    const t = toks[k]!;
    if (/[,.;:!?]/.test(toks[k - 1]!.post)) return undefined;
    const participle = (t.tags.has('PastTense') || t.tags.has('Participle') || /(ed|en)$/.test(t.normal)) && t.tags.has('Verb');
    if (!participle) {
      if (t.tags.has('Verb') && !t.tags.has('Noun') && !t.tags.has('Adjective')) return undefined;
      continue;
    }
    if (!toks.slice(0, k).some((x) => x.tags.has('Noun') || x.tags.has('Pronoun'))) return undefined;
    const verb = baseOfParticiple(t.normal);
    if (!verb || verb === t.normal || !isVerb(verb)) return undefined;
    const object = toks.slice(0, k).map((x) => x.text).join(' ');
    const rest = toks.slice(k + 1).map((x) => x.text).join(' ');
    return `${verb} ${object}${rest ? ` ${rest}` : ''}`;
  }
  return undefined;
}

/**
 * "I want invoices as PDF", "I want alerts by SMS": a thing wished for in a form or through a
 * channel carries its action: download it in that format, receive it that way.
 */
function wantedInForm(goal: string): string | undefined {
  const m = /^((?:the\s+|my\s+|our\s+)?[\w-]+(?:\s+[\w-]+){0,3}?)\s+(as|in|by|via)\s+(.+)$/i.exec(goal);
  if (!m || !tokens(`the ${m[1]!.replace(/^(the|my|our)\s+/i, '')}`).slice(1).some((t) => t.tags.has('Noun') && !t.tags.has('Pronoun'))) return undefined;
  if (/^(?:an?\s+)?(CSV|PDF|XLSX|Excel|JSON|XML|ZIP|ICS|Markdown|HTML)\b/i.test(m[3]!)) return `download ${goal}`;
  if (/^(?:an?\s+)?(e-?mail|SMS|text(?: message)?|Slack|Teams|push(?: notifications?)?|webhook)\b/i.test(m[3]!)) return `receive ${goal}`;
  return undefined;
}

/** "I want saved searches": a participle before the noun names what is done to it (save searches). */
function wantedDone(goal: string): string | undefined {
  const toks = tokens(goal);
  const [first, ...rest] = toks;
  if (!first || !rest.length || toks.length > 4 || !/ed$/.test(first.normal) || !rest.some((t) => t.tags.has('Noun'))) return undefined;
  const verb = baseOfParticiple(first.normal);
  return verb ? `${verb} ${rest.map((t) => t.text).join(' ')}` : undefined;
}

/** removed → remove, flagged → flag, emailed → email, hidden → hide; '' when no verb fits. */
function baseOfParticiple(word: string): string {
  const w = word.toLowerCase();
  if (IRREGULAR_BASE[w]) return IRREGULAR_BASE[w];
  const guesses = [w.replace(/([^aeiou])\1ed$/, '$1'), w.replace(/ied$/, 'y'), w.replace(/d$/, ''), w.replace(/ed$/, '')];
  // A base form the lexicon knows (not a guess of the tagger's): "remove", not "remov".
  const known = (g: string) => isCommonVerb(g) || (isVerb(g) && (tokens(`we ${g} the thing`)[1]?.confidence ?? 0) >= 0.5);
  return guesses.find((g) => g !== w && /^[a-z]{2,}$/.test(g) && known(g)) ?? '';
}

const IRREGULAR_BASE: Record<string, string> = { hidden: 'hide', shown: 'show', sent: 'send', kept: 'keep', made: 'make', paid: 'pay', sold: 'sell', built: 'build', held: 'hold', written: 'write', taken: 'take', given: 'give', frozen: 'freeze', chosen: 'choose', stolen: 'steal' };

export function readDescription(description: string): Reading {
  const cleaned = cleanDescription(description);
  const text = clean(cleaned.text);
  const roleM = ROLE_RE.exec(text);
  let role = roleM ? singular(clean(roleM[1]!).toLowerCase()) : null;
  const benefit = firstPersonBenefit(BENEFIT_RE.exec(text), text);
  const goalM = GOAL_RE.exec(text);
  let goal = goalM?.[1];
  const afterTo = Boolean(goalM && /\bto\s+$/i.test(goalM[0].slice(0, goalM[0].length - goalM[1]!.length)));
  let head = goal ?? clean(text.split(/\s*,?\s*\b(?:so\s+that|so(?=\s+(?:i|we)\b)|in\s+order\s+to|because)\b/i)[0] ?? text).replace(/^as an?\s+[^,]+,\s*/i, '');
  if (!goal) {
    const loose = LOOSE_ROLE_RE.exec(head) ?? SUBJECT_ROLE_RE.exec(head);
    if (loose) {
      // "Let users upload avatars": the role may be one word or two ("support agents").
      const [a, b] = loose[1]!.split(' ');
      const found = asRole(loose[1]!) ? { role: asRole(loose[1]!)!, rest: loose[2]! } : b && asRole(a!) ? { role: asRole(a!)!, rest: `${b} ${loose[2]}` } : null;
      if (found) {
        role ??= found.role;
        head = found.rest;
      }
    }
  }
  goal = clean(head);
  const base: Omit<Reading, 'action' | 'more' | 'trigger' | 'actor' | 'requirement'> = { cleaned, role, benefit, tokens: tokens(text) };

  const cond = CONDITION_RE.exec(goal);
  if (cond) {
    const { actions } = readActions(cond[2]!);
    if (actions.length) return { ...base, action: actions[0]!, more: actions.slice(1), trigger: clean(cond[1]!), actor: 'system', requirement: null };
  }
  const rule = RULE_RE.exec(goal);
  const req = REQUIREMENT_RE.exec(goal) ?? (rule && !asRole(rule[1]!) ? rule : null);
  if (req) {
    const subject = clean(req[1]!);
    return {
      ...base,
      action: null,
      more: [],
      trigger: null,
      actor: 'system',
      requirement: { subject, subjectPlural: /^all\b/i.test(subject) || isPluralNoun(subject), property: clean(`${req[2]} ${req[3]}`) },
    };
  }
  let { actions, trigger } = readActions(goal, afterTo);
  if (!actions.length && goalM && !afterTo) ({ actions, trigger } = readActions(objectComplement(goal) ?? wantedInForm(goal) ?? wantedDone(goal) ?? '', true));
  const automatic = /\b(automatically|by itself|on its own)\b/i.test(goal);
  return {
    ...base,
    action: actions[0] ?? null,
    more: actions.slice(1),
    trigger,
    actor: automatic ? 'system' : 'person',
    requirement: null,
  };
}
