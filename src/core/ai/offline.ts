import type { Action, Reading } from './narrative.js';
import { article, isPhrasal, PARTICLES, sentenceCase, thirdPerson } from './english.js';
import type { GeneratedStory, StoryProvider } from './provider.js';
import { assessDescription, type Assessment, type Refusal } from '../stories/assess.js';
import { phrasesFor, systemDoes, triggerSteps, type Phrases } from '../stories/phrases.js';
import { edgeSituation, kindOf, otherSituations, type Situation } from '../stories/situations.js';
import { openQuestions } from '../stories/questions.js';
import { outlineFor } from '../stories/outline.js';
import { boundaryRows, formatValue, type NamedValue } from '../stories/values.js';
import { renderGherkin, type StoryScenario, type StoryStep, type StructuredStory } from '../stories/structured.js';

/**
 * The offline generator: no network, no model. It reads the description (narrative.ts), refuses
 * what is not one (assess.ts), and writes a story a person could keep: a whole-phrase title, the
 * narrative as stated (a "So that" line only when the description gives a reason), the happy
 * path, a failure specific to what the goal acts on (situations.ts), a Scenario Outline over the
 * boundaries of any value the description names (outline.ts), and the open questions it leaves.
 */

export type OfflineResult =
  | { kind: 'story'; story: StructuredStory; gherkin: string; assessment: Assessment }
  | { kind: 'refusal'; refusal: Refusal; assessment: Assessment };

const TITLE_WORDS = 8;

/** Whole phrases only: the verb and its object always, then modifiers while they fit. */
export function titleFor(r: Reading): string {
  if (r.requirement) {
    const { subject, subjectPlural, property } = r.requirement;
    const verb = property.replace(/^have\b/, subjectPlural ? 'have' : 'has').replace(/^be\b/, subjectPlural ? 'are' : 'is').replace(/^(show|include|contain)\b/, (v) => (subjectPlural ? v : `${v}s`));
    return sentenceCase(`${subject.toLowerCase()} ${verb}`);
  }
  const a = r.action!;
  let object = a.object;
  if (object.split(' ').length > 6) object = object.replace(/\s+(of|with|from|for)\s.*$/i, '');
  const passive = /^(get|be) \w+(ed|en)\b/.test(a.text) && a.object === 'me';
  const units = passive ? [a.text.split(' ').slice(0, 2).join(' '), ...a.modifiers] : [[a.verb, a.quantity, object].filter(Boolean).join(' '), ...a.modifiers];
  if (r.trigger) units.push(`when ${r.trigger}`);
  let kept = [units[0]!];
  for (const u of units.slice(1)) {
    if ([...kept, u].join(' ').split(' ').length > TITLE_WORDS) break;
    kept.push(u);
  }
  // A title ends on a whole phrase: a unit ending on a word that needs another after it goes.
  while (kept.length > 1 && dangles(kept.join(' '), a.verb)) kept = kept.slice(0, -1);
  let title = kept.join(' ');
  while (title.includes(' ') && dangles(title, a.verb)) title = title.replace(/\s+\S+$/, '');
  return sentenceCase(title);
}

const DANGLING = new Set(
  ('a an the and or but nor of to for with at in on by from as into onto via per than then so if when while until unless ' +
    'before after because whether up down out off over even only just also every each any some no not my your their our its ' +
    'is are be can should will may might must this these those that which who whose between about through within without')
    .split(' '),
);

/** The title's last word needs another after it ("for up", "from their phone even"), unless it is the verb's own particle ("turn the heating off"). */
function dangles(title: string, verb: string): boolean {
  const words = title.toLowerCase().split(/\s+/);
  const last = words.at(-1)!.replace(/[^a-z']/g, '');
  if (!DANGLING.has(last)) return words.length > 1 && /^(while|when|before|after|by|without)$/.test(words.at(-2)!) && /ing$/.test(last);
  return !(PARTICLES.has(last) && isPhrasal(verb.split(' ')[0]!, last) && words.length > 2);
}

const steps = (keyword: StoryStep['keyword'], lines: string[]): StoryStep[] =>
  lines.map((text, i) => ({ keyword: i === 0 ? keyword : 'And', text }));

function situationScenario(s: Situation, signedIn: string | null): StoryScenario {
  const given = signedIn && !s.given[0]?.startsWith('I am signed in') ? [signedIn, ...s.given] : s.given;
  return { name: s.name, type: 'scenario', steps: [...steps('Given', given), ...steps('When', [s.when]), ...steps('Then', s.then)], examples: null };
}

/** The system acts when a count or a time is reached: "Lock accounts after 5 failed login attempts". */
function thresholdPath(a: Action, p: Phrases, v: NamedValue): StoryScenario {
  const one = `${article(p.head)} ${p.head}`;
  const reached = v.raw.replace(/^(after|more than|over|every)\s+/i, '');
  return {
    name: sentenceCase(a.text),
    type: 'scenario',
    steps: [...steps('Given', [`there is ${one}`]), ...steps('When', [`the ${p.head} reaches ${reached}`]), ...steps('Then', [`the system ${thirdPerson(a.verb)} the ${p.head}`])],
    examples: null,
  };
}

function thresholdAlready(p: Phrases, v: NamedValue): Situation {
  const reached = v.raw.replace(/^(after|more than|over|every)\s+/i, '');
  return {
    name: `The ${p.head} is already ${p.done}`,
    given: [`the ${p.head} is already ${p.done}`],
    when: `the ${p.head} reaches ${reached} again`,
    then: [`the ${p.head} stays ${p.done}`, `nothing is ${p.done} twice`],
  };
}

function happyPath(r: Reading, a: Action, p: Phrases, signedIn: string | null): StoryScenario {
  const kind = kindOf(p);
  const given: string[] = signedIn && !kind.anonymous ? [signedIn] : [];
  let when = kind.when ? kind.when(p) : `I ${p.goalThe}`;
  let then = kind.outcome(p);
  if (r.trigger) {
    const t = triggerSteps(r.trigger);
    if (t.given) given.push(t.given);
    when = t.when;
    if (r.actor === 'system' || p.self) then = [p.self ? `I am ${p.done}` : systemDoes(a), ...then.slice(p.self ? 1 : 0, 1)];
  } else if (!/^(create|upload|import|payment|schedule|sign-in|send|export|view|search|password-reset)$/.test(kind.key) && p.object && !p.self && !/^(which|what|who|how)\b/i.test(p.object)) {
    given.push(p.plural ? `there are ${p.object.replace(/^(the|my|our)\s+/i, '')}` : /^(my|our)\s/i.test(p.object) ? `I have ${p.some}` : `there is ${p.some}`);
  }
  // "… and get a refund" is an outcome; "… and change the logo" is another story (an open question asks).
  for (const m of r.more) if (/^(get|receive|see|keep|have)$/.test(m.verb)) then.push(`I ${m.text}`);
  if (r.benefit) then.push(r.benefit);
  if (!given.length) given.push(r.trigger ? 'the system is running' : kind.anonymous ? 'I have an account' : 'I am signed in');
  return { name: sentenceCase(a.text.split(' ').length <= 8 ? a.text : `${a.verb} ${a.object}`), type: 'scenario', steps: [...steps('Given', given), ...steps('When', [when]), ...steps('Then', then)], examples: null };
}

function requirementScenarios(r: Reading): StoryScenario[] {
  const req = r.requirement!;
  const noun = req.subject.replace(/^(the|every|each|all|any)\s+/i, '').toLowerCase().replace(/s$/i, (s) => (req.subjectPlural ? '' : s));
  const thing = `${article(noun)} ${noun}`;
  const m = /^(have|be|show|include|contain)\s+(.+)$/.exec(req.property)!;
  const [withIt, withoutIt] = m[1] === 'be' ? [`that is ${m[2]}`, `that is not ${m[2]}`] : [`with ${m[2]}`, `without ${m[2]}`];
  return [
    { name: `Add ${thing} ${withIt}`, type: 'scenario', steps: [...steps('Given', [`I add ${thing} ${withIt}`]), ...steps('When', ['I save it']), ...steps('Then', [`the ${noun} is saved ${withIt.replace(/^that is/, 'as')}`])], examples: null },
    { name: `Refuse ${thing} ${withoutIt}`, type: 'scenario', steps: [...steps('Given', [`I add ${thing} ${withoutIt}`]), ...steps('When', ['I try to save it']), ...steps('Then', [`I am asked for ${m[2]}`, `the ${noun} is not saved ${withoutIt}`])], examples: null },
    { name: `Existing ${noun}s ${withoutIt}`, type: 'scenario', steps: [...steps('Given', [`${thing} was saved before this rule, ${withoutIt}`]), ...steps('When', ['I open it']), ...steps('Then', [`I am asked to add ${m[2]}`])], examples: null },
  ];
}

/** "Passwords must have at least 12 characters": the boundary, tried on a new one. */
function requirementOutline(r: Reading, v: NamedValue): StoryScenario {
  const req = r.requirement!;
  const noun = req.subject.replace(/^(the|every|each|all|any)\s+/i, '').toLowerCase().replace(/s$/i, '');
  const col = v.family === 'count' ? v.unit.split(' ').at(-1)!.toLowerCase() : v.family === 'size' ? 'size' : 'value';
  const amount = v.family === 'count' ? `<${col}> ${v.unit}` : `<${col}>`;
  const [yes, no] = ['accepted', 'refused'];
  return {
    name: sentenceCase(v.raw),
    type: 'outline',
    steps: [...steps('Given', [`I enter ${article(noun)} ${noun} with ${amount}`]), ...steps('When', ['I save it']), ...steps('Then', [`the ${noun} is <result>`])],
    examples: { columns: [col, 'result'], rows: boundaryRows(v).map((row) => [formatValue(v, row.amount), row.inside ? yes : no]) },
  };
}

/**
 * Regenerate: the rules give one story per text. Each new version keeps what the previous one
 * added and adds one scenario it left out (access, doing it twice, the kind's own edge case);
 * when none is left, the same story comes back with a first open question saying why and what
 * would help.
 */
function anotherVersion(story: StructuredStory, others: Situation[], previous: string, signedIn: string | null): StructuredStory {
  const had = new Set([...previous.matchAll(/^\s*Scenario(?: Outline)?:\s*(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase()));
  const inStory = (s: Situation) => story.scenarios.some((sc) => sc.name.toLowerCase() === s.name.toLowerCase());
  // What earlier versions added stays; one more comes with each regenerate until none is left.
  const kept = others.filter((s) => had.has(s.name.toLowerCase()) && !inStory(s));
  const fresh = others.find((s) => !had.has(s.name.toLowerCase()) && !inStory(s));
  const extra = [...kept, ...(fresh ? [fresh] : [])].map((s) => situationScenario(s, s.name.startsWith('Someone without') ? null : signedIn));
  return { ...story, scenarios: [...story.scenarios, ...extra], open_questions: fresh ? story.open_questions : [SAME_AGAIN, ...story.open_questions] };
}

export function writeOfflineStory(description: string, opts: { previous?: string } = {}): OfflineResult {
  const assessment = assessDescription(description);
  if (assessment.refusal) return { kind: 'refusal', refusal: assessment.refusal, assessment };
  const r = assessment.reading;
  const role = r.role ?? 'user';
  const signedIn = r.role ? `I am signed in as ${article(r.role)} ${r.role}` : null;
  let scenarios: StoryScenario[];
  let p: Phrases | null = null;
  let goal: string;
  let others: Situation[] = [];
  if (r.requirement) {
    scenarios = requirementScenarios(r);
    const v = assessment.values[0];
    if (v && (v.bound === 'max' || v.bound === 'min')) scenarios = [scenarios[0]!, requirementOutline(r, v), scenarios[2]!];
    goal = `${r.requirement.subject.toLowerCase()} to ${r.requirement.property}`;
  } else {
    const a = r.action!;
    p = phrasesFor(a);
    const kind = kindOf(p);
    const who = kind.anonymous ? null : signedIn;
    const threshold = r.actor === 'system' && !r.trigger ? assessment.values.find((v) => v.bound === 'after') : undefined;
    const happy = threshold ? thresholdPath(a, p, threshold) : happyPath(r, a, p, who);
    const error = situationScenario(threshold ? thresholdAlready(p, threshold) : kind.error(p), threshold ? null : who);
    const outline = outlineFor(assessment, p, threshold ? null : who);
    const edge = edgeSituation(p, kind, r.actor === 'system');
    others = otherSituations(p, kind, r.actor === 'system');
    scenarios = [happy, error, outline ?? situationScenario(edge, edge.name.startsWith('Someone without') ? null : who)];
    goal = r.actor === 'system' ? `the system to ${a.text}${r.trigger ? ` when ${r.trigger}` : ''}` : `to ${a.text}`;
    if (r.more.length) goal += ` and ${r.more.map((m) => m.text).join(' and ')}`;
  }
  let story: StructuredStory = {
    feature: titleFor(r),
    narrative: { as_a: role, i_want: goal, so_that: r.benefit },
    background: null,
    scenarios,
    open_questions: openQuestions(assessment, p),
  };
  if (opts.previous !== undefined) story = anotherVersion(story, others, opts.previous, r.action && !kindOf(p!).anonymous ? signedIn : null);
  return { kind: 'story', story, gherkin: renderGherkin(story), assessment };
}

/** The Gherkin alone, or an empty string for a description that was refused. */
export function generateOfflineGherkin(description: string): string {
  const result = writeOfflineStory(description);
  return result.kind === 'story' ? result.gherkin : '';
}

/** Said when a regenerate would give the same story: why, and what would give a different one. */
export const SAME_AGAIN =
  'This is the same story as before: the offline generator writes one story per description, from rules, so it has no other version to offer. For a different one, set ANTHROPIC_API_KEY (or another model provider), or make the description more specific: who asks, what they act on, and what they see when it works.';

export function createOfflineProvider(): StoryProvider {
  return {
    name: 'offline',
    label: 'offline generator',
    model: 'autodevhub-offline-2',
    async generate(description, context): Promise<GeneratedStory> {
      const started = performance.now();
      const result = writeOfflineStory(description, context?.previous !== undefined ? { previous: context.previous } : {});
      const usage = { inputTokens: null, outputTokens: null, latencyMs: Math.round(performance.now() - started) };
      if (result.kind === 'refusal') return { ...usage, gherkin: '', refusal: result.refusal, openQuestions: [] };
      return { ...usage, gherkin: result.gherkin, openQuestions: result.story.open_questions };
    },
    async repair(_description, previous) {
      // Rendered from structure, the offline story always parses; a repair could only repeat it.
      return { gherkin: previous, inputTokens: null, outputTokens: null, latencyMs: 0 };
    },
  };
}
