import { sentenceCase } from '../ai/english.js';
import type { Phrases } from './phrases.js';

/**
 * What can go wrong depends on what the goal acts on: a reset link expires, an export has no
 * rows, an upload is too large, a merge target was deleted, an alert was already acknowledged.
 * Each kind of goal has its happy outcome and its own failure; the last kind (permission) fits
 * any goal and is used only when nothing more specific matches.
 */

export interface Situation {
  name: string;
  given: string[];
  when: string;
  then: string[];
}

export interface Kind {
  key: string;
  verbs?: RegExp;
  objects?: RegExp;
  outcome(p: Phrases): string[];
  error(p: Phrases): Situation;
  /** A third scenario of its own, when access or repetition would not fit. */
  edge?(p: Phrases): Situation;
  /** The When of the happy path, when "I <goal>" would not read well. */
  when?(p: Phrases): string;
  /** The person is not signed in (a password reset). */
  anonymous?: boolean;
}

const tryTo = (p: Phrases) => `I try to ${p.goalThe}`;
/** "nothing is deleted"; a verb whose participle reads badly after "nothing is" ("gotten", "had") says "nothing changes". */
const nothing = (p: Phrases, tail = '') => (/^(gotten|got|had|been|seen|known|kept|received|was|were|is)$/.test(p.done) ? 'nothing changes' : `nothing is ${p.done}${tail}`);

export const KINDS: Kind[] = [
  {
    key: 'password-reset',
    verbs: /^(reset|change|recover)$/,
    objects: /password|passphrase|pin\b/i,
    anonymous: true,
    when: () => 'I ask to reset my password',
    outcome: () => ['I receive an email with a link to choose a new password', 'after choosing a new password I can sign in with it'],
    edge: () => ({
      name: 'The email address has no account',
      given: ['I enter an email address that has no account'],
      when: 'I ask to reset my password',
      then: ['I see the same message as for a known address', 'no email says whether the account exists'],
    }),
    error: () => ({
      name: 'The reset link has expired',
      given: ['I asked for a reset link', 'the link has expired'],
      when: 'I open the link',
      then: ['I am told the link has expired', 'I can ask for a new link', 'my password is unchanged'],
    }),
  },
  {
    key: 'merge',
    verbs: /^merge$/,
    objects: /pull requests?|merge requests?|branch|commits?|\bPRs?\b|changes/i,
    outcome: (p) => [`${p.the} ${p.is} merged into the target branch`],
    error: (p) => ({
      name: 'The merge target was deleted',
      given: ['the target branch was deleted after the merge was requested'],
      when: tryTo(p),
      then: ['I am told the target branch no longer exists', 'nothing is merged'],
    }),
  },
  {
    // Merging records (tickets, contacts, accounts): the words of the description's domain, not of git.
    key: 'merge-records',
    verbs: /^(merge|combine|deduplicate)$/,
    outcome: (p) => [`the ${p.heads} become one ${p.head}`, `the ${p.head} that remains keeps the history of each`],
    error: (p) => ({
      name: `Only one ${p.head} is chosen`,
      given: [`I chose only one ${p.head}`],
      when: tryTo(p),
      then: [`I am told to choose at least two ${p.heads}`, 'nothing is merged'],
    }),
  },
  {
    key: 'export',
    verbs: /^(export|download|print|report|extract)$/,
    outcome: (p) => [`I receive ${p.the} as ${p.format ? `a ${p.format} file` : 'a file'}`, 'the file holds only what I am allowed to see'],
    error: (p) => ({
      name: `There is nothing to ${p.verb}`,
      given: [`there are no ${p.heads} to ${p.verb}`],
      when: `I ${p.goalThe}`,
      then: [`I am told there is nothing to ${p.verb}`, `no empty ${p.format ?? ''} file is produced`.replace(/\s+/g, ' ')],
    }),
  },
  {
    key: 'import',
    verbs: /^(import|sync)$/,
    outcome: (p) => [`${p.the} ${p.is} imported`, 'I see how many rows were imported'],
    error: (p) => ({
      name: 'Some rows are in the wrong format',
      given: ['the file has a row that does not match the expected columns'],
      when: tryTo(p),
      then: ['I see which rows are wrong and why', 'nothing is imported until the file is fixed'],
    }),
  },
  {
    key: 'upload',
    verbs: /^(upload|attach|add)$/,
    objects: /file|photo|image|picture|avatar|attachment|document|video|logo|screenshot|pdf|csv|artifact|recording/i,
    outcome: (p) => [`${p.the} ${p.is} ${p.done}`, `I can see ${p.it} where I ${p.verb === 'attach' ? 'attached' : 'uploaded'} ${p.it}`],
    error: (p) => ({
      name: 'The file is too large',
      given: ['the file is larger than the allowed size'],
      when: tryTo(p),
      then: ['I am told the size limit and the size of my file', 'nothing is uploaded'],
    }),
  },
  {
    key: 'payment',
    verbs: /^(pay|checkout|check out|purchase|buy|subscribe|upgrade|order|renew|top up)$/,
    outcome: (p) => [`${p.verb === 'subscribe' ? 'my subscription starts' : `${p.the} ${p.is} ${p.done}`}`, 'I receive a receipt'],
    error: (p) => ({
      name: 'The payment is declined',
      given: ['my payment method is declined'],
      when: tryTo(p),
      then: ['I am told the payment was declined and why', 'I am not charged', `${nothing(p)}`],
    }),
  },
  {
    key: 'subscription',
    verbs: /^(cancel|unsubscribe|end|stop|pause)$/,
    objects: /subscription|plan|membership|contract|trial/i,
    outcome: (p) => [`${p.the} ${p.is} ${p.done}`, 'I am not charged for the next period', 'I receive a confirmation'],
    error: (p) => ({
      name: `${sentenceCase(p.the)} ${p.was} already ${p.done}`,
      given: [`${p.the} ${p.was} already ${p.done}`],
      when: tryTo(p),
      then: [`I am told ${p.the} ${p.is} already ${p.done}`, 'I am not charged again'],
    }),
    edge: (p) => ({
      name: 'Cancel in the middle of a paid period',
      given: ['I have paid for the current period and half of it is left'],
      when: `I ${p.goalThe}`,
      then: ['I am told until when I keep access', 'I am not charged for the next period'],
    }),
  },
  {
    key: 'improve',
    verbs: /^(improve|enhance|optimise|optimize|speed up|make|fix|rework|refactor|polish)$/,
    when: () => 'the change is released',
    outcome: (p) => [`${p.the} ${p.is} better than before by the agreed measure`],
    error: (p) => ({
      name: 'It gets worse somewhere else',
      given: ['the change is ready'],
      when: `${p.the} ${p.is} measured across the product`,
      then: ['nothing is worse than before the change', 'the change is not released while something is'],
    }),
    edge: (p) => ({
      name: 'The target is missed',
      given: ['the change is released'],
      when: `${p.the} ${p.is} measured`,
      then: ['the team sees by how much the target was missed'],
    }),
  },
  {
    key: 'rotate',
    verbs: /^(rotate|renew|regenerate|roll)$/,
    objects: /key|token|secret|certificate|credential|password/i,
    outcome: (p) => [`new ${p.heads} replace ${p.the}`, `the old ${p.heads} stop working after a grace period`],
    error: (p) => ({
      name: `A service still uses an old ${p.head}`,
      given: [`a service still uses an old ${p.head}`],
      when: `I ${p.goalThe}`,
      then: [`the old ${p.head} keeps working until the grace period ends`, 'I am told which services still use it'],
    }),
  },
  {
    key: 'acknowledge',
    verbs: /^(acknowledge|resolve|snooze|claim|assign|take)$/,
    outcome: (p) => [`${p.the} ${p.is} ${p.done} in my name`, `the rest of the team can see that ${p.the} ${p.is} ${p.done}`],
    error: (p) => ({
      name: `${sentenceCase(p.the)} ${p.was} already ${p.done}`,
      given: [`${p.the} ${p.was} already ${p.done} by someone else`],
      when: tryTo(p),
      then: [`I see who ${p.done} ${p.it} and when`, `${p.the} ${p.is} not ${p.done} a second time`],
    }),
  },
  {
    key: 'state-change',
    verbs: /^(archive|delete|remove|cancel|close|deactivate|disable|unsubscribe|revoke|reject|approve|lock|block|suspend|purge|restore|reopen|unlock|publish|unpublish|hide|invalidate|expire)$/,
    outcome: (p) =>
      p.self
        ? [`I am ${p.done}`]
        : [`${p.the} ${p.is} ${p.done}`, /archive|delete|remove|purge|hide/.test(p.verb) ? `${p.the} no longer ${p.plural ? 'appear' : 'appears'} among the active ${p.heads}` : 'I receive a confirmation'],
    error: (p) => ({
      name: `${sentenceCase(p.the)} ${p.was} already ${p.done}`,
      given: [`${p.the} ${p.was} already ${p.done}${p.mine ? '' : ' by someone else'}`],
      when: tryTo(p),
      then: [`I am told ${p.the} ${p.was} already ${p.done}`, 'nothing else changes'],
    }),
  },
  {
    key: 'search',
    verbs: /^(search|filter|find|browse|look up|query|sort)$/,
    outcome: (p) => [`I see only the ${p.heads} that match`, 'I can see why each one matched'],
    error: (p) => ({
      name: 'Nothing matches',
      given: [`no ${p.head} matches what I am looking for`],
      when: `I ${p.goalThe}`,
      then: ['I am told nothing matched', 'I am offered a way to widen the search'],
    }),
  },
  {
    key: 'send',
    verbs: /^(send|notify|email|invite|share|remind|message|alert|forward|mention|ping)$/,
    outcome: (p) => (p.self ? [`I am ${p.done}`] : [`${p.the} ${p.is} ${p.done}`, 'I can see when it was delivered']),
    error: (p) => ({
      name: 'The recipient cannot be reached',
      given: ['the recipient has no valid address or has opted out'],
      when: p.self ? 'it happens' : tryTo(p),
      then: ['nothing is sent to them', 'I can see that the delivery did not happen and why'],
    }),
  },
  {
    key: 'schedule',
    verbs: /^(book|schedule|reserve|reschedule|plan)$/,
    outcome: (p) => [`${p.the} ${p.is} ${p.done}`, 'I receive a confirmation with the date and time'],
    error: (p) => ({
      name: 'The time is no longer free',
      given: ['someone else took that time a moment earlier'],
      when: tryTo(p),
      then: ['I am told the time is taken', 'I am offered the nearest free times'],
    }),
  },
  {
    key: 'sign-in',
    verbs: /^(log in|sign in|login|authenticate|verify|sign up|register)$/,
    outcome: (p) => [p.verb === 'sign up' || p.verb === 'register' ? 'my account is created and I am signed in' : 'I am signed in', 'I land on the page I came from'],
    error: () => ({
      name: 'The credentials are wrong',
      given: ['I enter a wrong password or code'],
      when: 'I try to sign in',
      then: ['I am told the details do not match, without saying which one', 'I am not signed in'],
    }),
  },
  {
    key: 'rollback',
    verbs: /^(roll back|revert|undo|restore)$/,
    outcome: (p) => [`the previous version is ${p.verb === 'roll back' ? 'running again' : 'restored'}`, 'the team is told what was rolled back and why'],
    error: (p) => ({
      name: 'There is nothing to roll back to',
      given: ['there is no earlier version that worked'],
      when: p.verb === 'roll back' ? 'a roll back is needed' : tryTo(p),
      then: [nothing(p), 'the team is alerted that it needs to step in'],
    }),
  },
  {
    key: 'create',
    verbs: /^(create|add|register|open|start|set up|invite|build|generate|write|post|submit|request)$/,
    outcome: (p) => [`${p.the} ${p.is} ${p.done}`, `I can see ${p.the === 'it' ? 'it' : p.the} in the list`],
    error: (p) => ({
      name: `${sentenceCase(p.some)} with the same name already ${p.plural ? 'exist' : 'exists'}`,
      given: [`${p.some} with the same name already ${p.plural ? 'exist' : 'exists'}`],
      when: tryTo(p),
      then: [`I am told the name is taken`, `no second ${p.head} is created`],
    }),
  },
  {
    key: 'edit',
    verbs: /^(edit|update|change|rename|configure|customise|customize|set|move|reorder|assign|label|tag|mark|pin)$/,
    outcome: (p) => [`${p.the} ${p.is} ${p.done}`, 'everyone who opens it sees the change'],
    error: (p) => ({
      name: 'Someone else changed it first',
      given: [`someone else changed ${p.the} after I opened ${p.it}`],
      when: tryTo(p),
      then: ['I see their change next to mine', 'nothing is overwritten without my say'],
    }),
  },
  {
    key: 'view',
    verbs: /^(see|view|list|show|display|track|monitor|compare|watch|read|open|preview|check|review|get)$/,
    outcome: (p) => [p.object.match(/^(which|what|who|how|when|where|whether)\b/i) ? `I see ${p.object}` : `I see ${p.the}`],
    error: (p) => ({
      name: p.wh ? `No ${p.head} ${p.wh.state}` : 'There is nothing to show yet',
      given: [p.wh ? `no ${p.head} ${p.wh.state}` : `there are no ${p.heads} yet`],
      when: `I ${p.goalThe}`,
      then: [p.wh ? `I am told no ${p.head} ${p.wh.state}` : 'I am told there is nothing to show yet', 'I am not shown an error'],
    }),
  },
];

const target = (p: Phrases) => (p.the === 'I' ? 'me' : p.object ? p.the : '');

export const PERMISSION: Kind = {
  key: 'permission',
  outcome: (p) => (p.self ? [`I am ${p.done}`] : [`${p.the} ${p.is} ${p.done}`]),
  error: (p) => ({
    name: `Someone without access cannot ${p.verb} ${target(p)}`.trim(),
    given: [`I am signed in without permission to ${p.verb} ${target(p)}`.trim()],
    when: tryTo(p),
    then: ['I am told who can do it', nothing(p)],
  }),
};

export function kindOf(p: Phrases): Kind {
  const found = KINDS.find((k) => (!k.verbs || k.verbs.test(p.verb)) && (!k.objects || k.objects.test(p.object) || (k.key === 'merge' && k.objects.test(p.goal))));
  return found ?? PERMISSION;
}

/** A second thing to try, different from the error path: access, or doing it twice. */
export function edgeSituation(p: Phrases, kind: Kind, system: boolean): Situation {
  if (kind.edge) return kind.edge(p);
  if (system) {
    return {
      name: 'It happens again while the first is being handled',
      given: [`the system is already handling one`],
      when: 'it happens a second time',
      then: ['the second is handled after the first', nothing(p, ' twice')],
    };
  }
  if (p.self) {
    return {
      name: `I turned these off`,
      given: [`I have turned off being ${p.done} this way`],
      when: 'it happens',
      then: [`I am not ${p.done}`],
    };
  }
  if (kind !== PERMISSION && !p.mine) return PERMISSION.error(p);
  return repeatSituation(p);
}

/** Doing it twice gives the same result, not a duplicate. */
export function repeatSituation(p: Phrases): Situation {
  return {
    name: `${sentenceCase(p.verb)} ${p.the === 'I' ? 'me' : p.the} twice`,
    given: [`${p.the === 'I' ? 'I was' : `${p.the} ${p.was}`} just ${p.done}`],
    when: `${p.goalThe.replace(/^/, 'I ')} again`,
    then: ['the result is the same as the first time', 'nothing is duplicated'],
  };
}

/** The third scenarios a story could have: the ones a regenerate can offer instead of the first choice. */
export function otherSituations(p: Phrases, kind: Kind, system: boolean): Situation[] {
  const all = [kind.edge?.(p), system ? edgeSituation(p, kind, true) : undefined, kind.anonymous ? undefined : PERMISSION.error(p), p.self ? undefined : repeatSituation(p)];
  return all.filter((s): s is Situation => Boolean(s));
}
