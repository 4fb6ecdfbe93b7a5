import { readNarrative, type Narrative } from './narrative.js';
import { oneLine, pastParticiple, titleCase } from './english.js';
import type { StoryProvider, GeneratedStory } from './provider.js';

/**
 * The offline generator: no network, no model. It reads role, goal and benefit out of the
 * description (narrative.ts) and derives a Feature with three scenarios:
 * - the happy path: the role performs the goal and sees its outcome and benefit;
 * - a validation/error path: the goal attempted with missing or invalid input;
 * - an edge case chosen by what the goal acts on (a payment can be declined, a search can find
 *   nothing, an upload can be too large, a save can repeat), falling back to repetition.
 * The result is labelled "offline generator" wherever it is shown.
 */

interface EdgeCase {
  match: RegExp;
  name: (n: Narrative) => string;
  given: (n: Narrative) => string;
  then: (n: Narrative) => string[];
}

const EDGE_CASES: EdgeCase[] = [
  {
    match: /\b(pay|checkout|check out|purchase|buy|order|subscribe|refund|charge)\b/i,
    name: () => 'Payment is declined',
    given: () => 'my payment method is declined',
    then: (n) => [`I am told the payment was declined`, `nothing is ${pastParticiple(n.verb)} and I am not charged`],
  },
  {
    match: /\b(search|filter|find|browse|look up|lookup|query)\b/i,
    name: () => 'No results match',
    given: (n) => `nothing matches what I ${n.verb}`,
    then: () => ['I see a message that there are no results', 'I am offered a way to change my criteria'],
  },
  {
    match: /\b(upload|import|attach|share a file|add a photo|add an image)\b/i,
    name: () => 'File is too large or of the wrong type',
    given: () => 'the file exceeds the allowed size or type',
    then: () => ['I see which limit the file breaks', 'no partial file is kept'],
  },
  {
    match: /\b(log ?in|sign ?in|authenticate|reset (?:my |the )?password|password)\b/i,
    name: () => 'Too many failed attempts',
    given: () => 'I have failed five attempts in a row',
    then: () => ['further attempts are paused for a while', 'I am told how to recover my account'],
  },
  {
    match: /\b(delete|remove|archive|cancel|unsubscribe)\b/i,
    name: (n) => `${titleCase(n.object || 'Item')} was already ${pastParticiple(n.verb)}`,
    given: (n) => `${n.object || 'the item'} was already ${pastParticiple(n.verb)} elsewhere`,
    then: () => ['I am told it no longer exists', 'no error is shown as a failure of mine'],
  },
  {
    match: /\b(notify|notification|email|message|send|alert|remind)\b/i,
    name: () => 'Recipient cannot be reached',
    given: () => 'the recipient has opted out or cannot be reached',
    then: () => ['nothing is sent to them', 'I can see that the delivery did not happen'],
  },
  {
    match: /\b(export|download|report|print)\b/i,
    name: () => 'There is no data for the period',
    given: () => 'there is no data for the chosen period',
    then: () => ['I get an empty result with a clear explanation', 'no broken file is produced'],
  },
  {
    match: /\b(cart|basket|list|wishlist|collection|queue|inbox)\b/i,
    name: (n) => `${titleCase(n.object || 'List')} is empty`,
    given: (n) => `${n.object || 'the list'} is empty`,
    then: (n) => [`I am told there is nothing to ${n.verb}`, 'I am shown how to add something first'],
  },
  {
    match: /\b(schedule|book|reserve|plan|calendar|appointment|deadline)\b/i,
    name: () => 'The chosen time is no longer available',
    given: () => 'someone else took the chosen time a moment earlier',
    then: () => ['I am told the time is taken', 'I am offered the nearest free times'],
  },
];

const REPEAT_CASE: EdgeCase = {
  match: /.*/,
  name: (n) => `${titleCase(`${n.verb} ${n.object}`, 6)} twice`,
  given: (n) => `I have just ${pastParticiple(n.verb)} ${n.object || 'it'}`,
  then: (n) => [`I ${n.verb} ${n.object || 'it'} again with the same details`, 'the result is the same and nothing is duplicated'],
};

/** What the goal itself acts on decides first; the benefit only when the goal says nothing. */
function chooseEdgeCase(n: Narrative): EdgeCase {
  return EDGE_CASES.find((e) => e.match.test(n.goal)) ?? EDGE_CASES.find((e) => e.match.test(n.benefit)) ?? REPEAT_CASE;
}

function article(word: string): string {
  // "a user", "a European", "an hour": the sound decides, approximated by these spellings.
  if (/^(u[bcdfgklnprst][aeiou]|eu|one\b|uni)/i.test(word)) return 'a';
  if (/^(hour|honest|heir)/i.test(word)) return 'an';
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

export function generateOfflineGherkin(description: string): string {
  const n = readNarrative(description);
  const role = oneLine(n.role);
  const goal = oneLine(n.goal);
  const benefit = oneLine(n.benefit);
  const verb = n.verb;
  const object = oneLine(n.object) || 'it';
  const done = pastParticiple(verb);
  const edge = chooseEdgeCase(n);
  const edgeSteps = edge.then(n);
  const thenLines = edge === REPEAT_CASE ? [`When ${edgeSteps[0]}`, `Then ${edgeSteps[1]}`] : [`When I ${goal}`, `Then ${edgeSteps[0]}`, `And ${edgeSteps[1]}`];
  const benefitStep = benefit.replace(/^i\b/, 'I');

  const lines = [
    `Feature: ${titleCase(goal) || 'New capability'}`,
    `  As ${article(role)} ${role}`,
    `  I want to ${goal}`,
    `  So that ${benefit}`,
    '',
    `  Scenario: ${titleCase(`${verb} ${object}`, 6)} successfully`,
    `    Given I am signed in as ${article(role)} ${role}`,
    `    When I ${goal}`,
    `    Then I see a confirmation that I have ${done} ${object}`,
    `    And ${benefitStep}`,
    '',
    `  Scenario: ${titleCase(`${verb} ${object}`, 6)} with missing or invalid details`,
    `    Given I am signed in as ${article(role)} ${role}`,
    `    When I try to ${goal} with required details missing or invalid`,
    `    Then I see what is wrong and how to fix it`,
    `    And nothing is ${done}`,
    '',
    `  Scenario: ${edge.name(n)}`,
    `    Given I am signed in as ${article(role)} ${role}`,
    `    And ${oneLine(edge.given(n))}`,
    ...thenLines.map((l) => `    ${oneLine(l)}`),
    '',
  ];
  return lines.join('\n');
}

export function createOfflineProvider(): StoryProvider {
  return {
    name: 'offline',
    label: 'offline generator',
    model: 'autodevhub-offline-1',
    async generate(description): Promise<GeneratedStory> {
      const started = performance.now();
      const gherkin = generateOfflineGherkin(description);
      return { gherkin, inputTokens: null, outputTokens: null, latencyMs: Math.round(performance.now() - started) };
    },
    async repair(_description, previous) {
      // The offline generator's output is built line by line from a template that always
      // parses; a repair can only regenerate it, which would give the same text.
      return { gherkin: previous, inputTokens: null, outputTokens: null, latencyMs: 0 };
    },
  };
}
