import type { Assessment } from './assess.js';
import type { Phrases } from './phrases.js';
import { formatValue } from './values.js';

/**
 * What the description leaves undecided and a team has to answer before building: who may do
 * it, limits it does not name, what happens to existing data, where a boundary falls. The offline
 * generator asks these from what is missing in the text; Claude returns its own.
 */

const DESTRUCTIVE = /^(archive|delete|remove|cancel|close|deactivate|disable|purge|merge|migrate|replace|rename|move|revoke|unsubscribe|expire|invalidate|roll back|revert)$/;
const LIMITED: Array<[RegExp, string]> = [
  [/^(upload|attach|import)$/, 'How large may a file be, and which file types are accepted?'],
  [/^(export|download|report|print)$/, 'Which period and which columns does it cover, and is there a row limit?'],
  [/^(send|notify|email|invite|remind|alert|message|share)$/, 'Through which channel (email, chat, in the app), and how often at most?'],
  [/^(search|filter|find|browse)$/, 'Which fields can be searched, and how many results are shown at most?'],
  [/^(create|add|invite|register|book|reserve)$/, 'Is there a limit on how many can be made, and by whom?'],
];

export function openQuestions(a: Assessment, p: Phrases | null, max = 4): string[] {
  const q: string[] = [];
  const r = a.reading;
  const target = p ? (p.the === 'I' ? 'me' : p.the) : '';
  if (p && !r.role && r.actor === 'person') q.push(`Who may ${p.verb} ${target}: anyone signed in, or only some roles?`);
  if (r.actor === 'system' && !r.role && !r.requirement) q.push('Who is told when this happens, and how?');
  if (p && p.object && DESTRUCTIVE.test(p.verb) && !p.self) {
    q.push(`What happens to existing data when ${target} ${p.is} ${p.done}: kept, hidden or deleted — and can it be undone?`);
  }
  for (const v of a.values) {
    if (v.bound === 'older') q.push(`Does exactly ${formatValue(v, v.amount)} count? The examples leave that boundary out.`);
    else if (v.bound === 'max') q.push(`Is exactly ${formatValue(v, v.amount)}${v.family === 'count' ? ` ${v.unit}` : ''} still allowed? The examples assume it is.`);
  }
  if (p && a.values.length === 0) {
    const limit = LIMITED.find(([re]) => re.test(p.verb));
    if (limit) q.push(limit[1]);
  }
  for (const word of a.signals.vague.slice(0, 1)) q.push(`What does "${word}" mean here: measured how, and what is the target?`);
  if (a.signals.compound && r.action && r.more[0]) {
    q.push(`This asks for more than one thing ("${r.action.text}" and "${r.more[0].text}"): one story, or split?`);
  }
  if (!r.benefit && q.length < max) q.push('Why is this needed? The story has no "So that" line until the description says what it is for.');
  if (r.requirement && q.length < max) q.push(`What happens to existing ones that do not meet it yet?`);
  return [...new Set(q)].slice(0, max);
}
