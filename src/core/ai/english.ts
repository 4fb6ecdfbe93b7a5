/** Just enough English morphology to turn a goal ("save my cart") into steps. */

const IRREGULAR: Record<string, string> = {
  buy: 'bought', send: 'sent', find: 'found', get: 'got', make: 'made', pay: 'paid', see: 'seen', write: 'written',
  set: 'set', put: 'put', read: 'read', run: 'run', build: 'built', give: 'given', take: 'taken', choose: 'chosen',
  show: 'shown', hide: 'hidden', keep: 'kept', leave: 'left', lose: 'lost', sell: 'sold', tell: 'told', upload: 'uploaded',
  begin: 'begun', break: 'broken', bring: 'brought', do: 'done', draw: 'drawn', feed: 'fed', forget: 'forgotten',
  freeze: 'frozen', hold: 'held', know: 'known', lay: 'laid', lead: 'led', mean: 'meant', meet: 'met', ride: 'ridden',
  ring: 'rung', rise: 'risen', seek: 'sought', shake: 'shaken', shut: 'shut', sing: 'sung', speak: 'spoken',
  spend: 'spent', steal: 'stolen', teach: 'taught', think: 'thought', throw: 'thrown', understand: 'understood',
  undo: 'undone', win: 'won', withdraw: 'withdrawn', reset: 'reset', log: 'logged', sign: 'signed', sync: 'synced',
  edit: 'edited', visit: 'visited', submit: 'submitted', filter: 'filtered', export: 'exported', import: 'imported',
};

const VOWELS = 'aeiou';

export function pastParticiple(verb: string): string {
  const v = verb.toLowerCase();
  if (IRREGULAR[v]) return IRREGULAR[v]!;
  if (v.endsWith('e')) return `${v}d`;
  if (/[^aeiou]y$/.test(v)) return `${v.slice(0, -1)}ied`;
  // Single-syllable consonant-vowel-consonant verbs double the last letter: stop → stopped.
  const [a, b, c] = [v.at(-3) ?? '', v.at(-2) ?? '', v.at(-1) ?? ''];
  if (v.length <= 4 && !VOWELS.includes(a) && VOWELS.includes(b) && !VOWELS.includes(c) && !'wxy'.includes(c)) {
    return `${v}${c}ed`;
  }
  return `${v}ed`;
}

/** "my cart" → "my cart"; "" → "it". Turns first-person objects into the role's own. */
export function objectPhrase(object: string): string {
  return object.trim() || 'it';
}

export function titleCase(s: string, maxWords = 8): string {
  const small = new Set(['a', 'an', 'the', 'and', 'or', 'to', 'of', 'in', 'on', 'for', 'with', 'my', 'their', 'our', 'by', 'at']);
  const words = s.split(/\s+/).filter(Boolean).slice(0, maxWords);
  return words
    .map((w, i) => (i > 0 && small.has(w.toLowerCase()) ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(' ');
}

/** A phrase placed inside a step or narrative line: one line, no stray Gherkin syntax. */
export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').replace(/"""|```/g, '"').replace(/\s+/g, ' ').trim();
}
