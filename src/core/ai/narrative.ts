/**
 * Reads the narrative of a feature idea: who (role), what (goal) and why (benefit). Accepts the
 * classic "As a …, I want … so that …" form and looser phrasings ("Let admins export reports to
 * CSV", "Users should be able to reset their password"). Each part records whether the
 * description stated it or it was inferred, which the confidence score uses.
 */

export interface Narrative {
  role: string;
  goal: string;
  benefit: string;
  stated: { role: boolean; goal: boolean; benefit: boolean };
  /** The goal's leading verb in its base form ("save"), and the rest ("my cart"). */
  verb: string;
  object: string;
}

const ROLE_RE = /\bas an?\s+([^,.;]+?)(?:,|\s+(?=i\s+(?:want|would|need|should|can|'d|wish|expect)\b))/i;
const GOAL_RE = /\bi\s+(?:want|would like|'d like|need|wish|should be able|expect)\s+(?:to\s+be\s+able\s+to\s+|to\s+)?(.+?)(?=\s*(?:,?\s*so\s+that|,?\s*in\s+order\s+to|,?\s*because)\b|[.;]|$)/i;
const BENEFIT_RE = /\b(?:so\s+that|in\s+order\s+to|because)\s+(.+?)(?:[.;]|$)/i;
const LOOSE_ROLE_RE = /^(?:let|allow|enable|help)\s+(?:the\s+|our\s+|all\s+)?(\w+(?:\s+\w+)?)\s+(?:to\s+)?(.+)$/i;
const SUBJECT_ROLE_RE = /^(?:the\s+|our\s+|all\s+)?(\w+(?:\s+\w+)?)\s+(?:should|must|can|need to|needs to|want to|wants to)\s+(?:be\s+able\s+to\s+)?(.+)$/i;

/** Common leading verbs of feature goals; a goal that starts otherwise ("dark mode") is something to use. */
const VERBS = new Set(
  (
    'add accept access approve archive assign attach authenticate block book browse build buy calculate cancel change ' +
    'chat check checkout choose clone close comment compare configure confirm connect copy create customise customize ' +
    'deactivate delete deploy disable download drag duplicate edit email enable enter export favourite favorite fetch ' +
    'filter find follow generate get give group hide import install invite join keep label leave like link list load ' +
    'lock log login logout manage mark merge message migrate monitor move mute notify open order organise organize ' +
    'pay pin place plan play post preview print publish purchase rate read receive record redeem refund register ' +
    'reject reload remind remove rename reopen reorder repeat reply report request reschedule reserve reset restore ' +
    'retry return review save scan schedule search see select sell send set share show sign sort split star start ' +
    'stop store stream submit subscribe suggest switch sync tag track transfer translate undo unlock unsubscribe ' +
    'update upgrade upload use verify view vote watch withdraw write'
  ).split(' '),
);

const OWN = /\b(their|his|her|its|his or her|his\/her)\b/gi;

const ROLE_NOUNS = new Set([
  'user', 'users', 'admin', 'admins', 'administrator', 'administrators', 'customer', 'customers', 'shopper', 'shoppers',
  'developer', 'developers', 'manager', 'managers', 'visitor', 'visitors', 'member', 'members', 'editor', 'editors',
  'owner', 'owners', 'operator', 'operators', 'guest', 'guests', 'buyer', 'buyers', 'seller', 'sellers', 'author', 'authors',
  'reader', 'readers', 'student', 'students', 'teacher', 'teachers', 'patient', 'patients', 'engineer', 'engineers',
  'reviewer', 'reviewers', 'support agent', 'support agents', 'team lead', 'team leads', 'tester', 'testers', 'player', 'players',
]);

function clean(s: string): string {
  return s.replace(/\s+/g, ' ').replace(/^[\s,;:-]+|[\s,;:.!-]+$/g, '').trim();
}

function singular(role: string): string {
  const words = role.split(' ');
  const last = words[words.length - 1]!;
  if (/ies$/.test(last)) words[words.length - 1] = last.replace(/ies$/, 'y');
  else if (/[^s]s$/.test(last)) words[words.length - 1] = last.slice(0, -1);
  return words.join(' ');
}

function splitGoal(goal: string): { goal: string; verb: string; object: string } {
  const words = goal.split(' ');
  const first = (words[0] ?? '').toLowerCase();
  if (VERBS.has(first)) return { goal: [first, ...words.slice(1)].join(' '), verb: first, object: words.slice(1).join(' ') };
  // No verb to act on: the goal names a capability to use ("dark mode" → "use dark mode").
  return { goal: `use ${goal}`, verb: 'use', object: goal };
}

/** With no "so that", the benefit is what the goal enables, said plainly rather than invented. */
function inferBenefit(goal: string): string {
  return `I can ${goal} without a workaround`;
}

export function readNarrative(description: string): Narrative {
  const text = clean(description.replace(/\n+/g, ' '));
  const roleM = ROLE_RE.exec(text);
  const goalM = GOAL_RE.exec(text);
  const benefitM = BENEFIT_RE.exec(text);

  let role = roleM ? clean(roleM[1]!) : '';
  let goal = goalM ? clean(goalM[1]!) : '';
  const benefit = benefitM ? clean(benefitM[1]!) : '';

  if (!goal) {
    // No "I want": take the sentence before any "so that" as the goal, and look for a role in it.
    const head = clean(text.split(/\s*,?\s*(?:so\s+that|in\s+order\s+to|because)\b/i)[0] ?? text).replace(/^as an?\s+[^,]+,\s*/i, '');
    const loose = LOOSE_ROLE_RE.exec(head) ?? SUBJECT_ROLE_RE.exec(head);
    const found = loose && roleAndRest(loose[1]!, loose[2]!);
    if (found) {
      if (!role) role = found.role;
      goal = found.rest;
    } else {
      goal = head;
    }
  }
  const stated = { role: Boolean(role), goal: goal.length > 0, benefit: Boolean(benefit) };
  // Told in the first person from here on: "reset their password" → "reset my password".
  const split = splitGoal(goal.replace(/^(?:to|be able to)\s+/i, '').replace(OWN, 'my') || 'use this feature');
  return {
    role: role || 'user',
    goal: split.goal,
    benefit: benefit || inferBenefit(split.goal),
    stated,
    verb: split.verb,
    object: split.object,
  };
}

/** "admins export reports" → role admin; "support agents close tickets" → role support agent. */
function roleAndRest(candidate: string, rest: string): { role: string; rest: string } | undefined {
  const words = candidate.toLowerCase().split(' ');
  if (words.length === 2 && ROLE_NOUNS.has(words.join(' '))) return { role: singular(words.join(' ')), rest: clean(rest) };
  if (ROLE_NOUNS.has(words[0]!)) return { role: singular(words[0]!), rest: clean([...candidate.split(' ').slice(1), rest].join(' ')) };
  return undefined;
}
