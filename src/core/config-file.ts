import { z } from 'zod';

/**
 * The YAML file (AUTODEVHUB_CONFIG): admins, people, groups and projects with their roles,
 * channels and environment policies. Parsed once at start by config.ts.
 */

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

const DURATION_RE = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "30m", "1h", "2d" → milliseconds. */
export function parseDuration(value: string): number {
  const m = DURATION_RE.exec(value.trim());
  if (!m) throw new ConfigFileError(`"${value}" is not a duration like 30m, 1h or 2d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => DURATION_RE.test(v.trim()), 'must be a duration like 30m, 1h or 2d')
    .transform((v) => parseDuration(v));

export const PROJECT_ROLES = ['viewer', 'developer', 'maintainer'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

const NAME_RE = /^[a-z0-9][a-z0-9_.-]*$/i;
/** A handle (slack:U0123, email:ann@acme.com), a person's name, group:<name>, or "*" (everyone). */
const principal = z.string().min(1).max(200).refine((v) => v === '*' || NAME_RE.test(v) || /^[a-z]+:.+$/.test(v), 'must be a handle like slack:U0123, a person, group:<name> or "*"');
const principals = z.array(principal).default([]);

const smokeCheckSchema = z
  .object({
    /** An HTTP(S) URL that must answer 2xx; `environment_url` checks the URL GitHub reported. */
    url: z.union([z.string().url().regex(/^https?:\/\//, 'must be an http(s) URL'), z.literal('environment_url')]).optional(),
    /** How long one attempt may take. */
    timeout: duration('10s'),
    /** Attempts after the first one, `interval` apart. */
    retries: z.number().int().min(0).max(20).default(2),
    interval: duration('5s'),
    /** The deployment's latest GitHub status must still be `success` once the URL answered. */
    github_status: z.boolean().default(false),
  })
  .refine((s) => s.url !== undefined || s.github_status, { message: 'name a url, or set github_status: true' });

const rollbackPolicySchema = z.object({
  required_approvals: z.number().int().min(0).optional(),
  approvers: z.array(z.string()).optional(),
  prevent_self_approval: z.boolean().optional(),
  timeout: z.string().refine((v) => DURATION_RE.test(v.trim()), 'must be a duration like 30m, 1h or 2d').transform((v) => parseDuration(v)).optional(),
});

const issueTrackerSchema = z.discriminatedUnion('tracker', [
  z.object({ tracker: z.literal('github'), repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'repo must be owner/name').optional(), labels: z.array(z.string()).default([]) }),
  z.object({ tracker: z.literal('jira'), project: z.string().regex(/^[A-Z][A-Z0-9_]+$/, 'a Jira project key, like WEB'), issue_type: z.string().default('Story'), labels: z.array(z.string()).default([]) }),
  z.object({ tracker: z.literal('linear'), team_id: z.string().min(1), label_ids: z.array(z.string()).default([]) }),
]);
export type IssueTrackerConfig = z.infer<typeof issueTrackerSchema>;

const webhookSchema = z.object({
  url: z.string().url().regex(/^https?:\/\//, 'must be an http(s) URL'),
  /** The environment variable holding this subscription's signing secret (secrets stay out of the file). */
  secret_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the name of an environment variable'),
  kinds: z.array(z.enum(['story', 'docs', 'deploy'])).default([]),
  statuses: z.array(z.enum(['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled', 'needs_input'])).default([]),
});

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const CLOCK_RE = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;
const LOCAL_DATETIME_RE = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/;

/**
 * A window of time in the project's time zone (or its own): dated (`from`/`until` as
 * "2026-12-20 00:00") or weekly (`days` with `from`/`until` as "15:00", "24:00"; an `until`
 * earlier than `from` ends the next day).
 */
const windowSchema = z
  .object({
    name: z.string().min(1).max(80),
    days: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    from: z.string(),
    until: z.string(),
    time_zone: z.string().optional(),
  })
  .superRefine((w, ctx) => {
    const re = w.days ? CLOCK_RE : LOCAL_DATETIME_RE;
    const like = w.days ? 'a time like 15:00' : 'a date and time like 2026-12-20 09:00';
    if (!re.test(w.from)) ctx.addIssue({ code: 'custom', path: ['from'], message: `must be ${like}` });
    if (!re.test(w.until)) ctx.addIssue({ code: 'custom', path: ['until'], message: `must be ${like}` });
    if (!w.days && w.from >= w.until) ctx.addIssue({ code: 'custom', path: ['until'], message: 'must be after from' });
    if (w.time_zone && !validTimeZone(w.time_zone)) ctx.addIssue({ code: 'custom', path: ['time_zone'], message: `"${w.time_zone}" is not an IANA time zone like Europe/Berlin` });
  });
export type TimeWindow = z.infer<typeof windowSchema>;

export function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const environmentPolicySchema = z
  .object({
    required_approvals: z.number().int().min(0).default(0),
    approvers: z.array(z.string()).default([]),
    prevent_self_approval: z.boolean().default(true),
    /** How long a deploy waits for its approvals. */
    timeout: duration('1h'),
    /** Checks that must be present and green, besides "everything reported is green". */
    required_checks: z.array(z.string()).default([]),
    /** How long the quality gate waits for pending checks. */
    gate_timeout: duration('30m'),
    /** How long the deployment's statuses are followed. */
    deploy_timeout: duration('30m'),
    /** The least project role that may deploy here (and promote or roll back). */
    min_role: z.enum(PROJECT_ROLES).default('developer'),
    /** The environment in which the same commit must already have succeeded (promotion order). */
    requires: z.string().optional(),
    /** Run after GitHub reports the deployment successful; the run succeeds only when it passes. */
    smoke_check: smokeCheckSchema.optional(),
    /** A failed verification rolls back by itself to the last commit that succeeded here. */
    auto_rollback: z.boolean().default(false),
    /** The approval policy of rollbacks, when it differs from the environment's own. */
    rollback: rollbackPolicySchema.optional(),
    /** Deploy safety (docs/deploy-safety.md). Refs that may be deployed here (globs: main, v*); empty: any. */
    refs: z.array(z.string().min(1).max(200)).default([]),
    /** Windows in which deploys are refused; they win over `deploy_windows`. */
    freezes: z.array(windowSchema).default([]),
    /** When set, deploys are refused outside these windows. */
    deploy_windows: z.array(windowSchema).default([]),
    /** How long a deploy waits after its approval before it starts. */
    wait_timer: z.string().refine((v) => DURATION_RE.test(v.trim()), 'must be a duration like 30m, 1h or 2d').transform((v) => parseDuration(v)).optional(),
    /** How long the commit must have run in `soak_in` (default: `requires`) without a failed smoke check. */
    soak_time: z.string().refine((v) => DURATION_RE.test(v.trim()), 'must be a duration like 30m, 1h or 2d').transform((v) => parseDuration(v)).optional(),
    soak_in: z.string().optional(),
  })
  .refine((p) => p.required_approvals <= p.approvers.length || p.approvers.length === 0, {
    message: 'required_approvals is more than the approvers listed',
  });

export type EnvironmentPolicy = z.infer<typeof environmentPolicySchema>;
export type SmokeCheck = z.infer<typeof smokeCheckSchema>;

const projectSchema = z.object({
  key: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'project keys are letters, digits, - and _'),
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'repo must be owner/name').optional(),
  channels: z.array(z.string()).default([]),
  environments: z.record(z.string(), environmentPolicySchema).default({}),
  docs: z.object({ path: z.string().default('docs/'), mode: z.string().default('pull_request') }).optional(),
  /** The project's own terms, given to Claude when it writes a story: term → meaning. */
  glossary: z.record(z.string().min(1).max(80), z.string().min(1).max(400)).default({}),
  /** Who holds which role on this project. */
  roles: z.object({ maintainer: principals, developer: principals, viewer: principals }).partial().default({}),
  /** What everyone in a channel linked to this project may do there ("none" to need a grant). */
  channel_role: z.enum(['none', ...PROJECT_ROLES]).default('viewer'),
  /** Deploys and `link` from channels not linked to this project (and from direct messages). */
  allow_unlinked_channels: z.boolean().default(false),
  /** The order in which a commit goes through environments: promote moves it one step on. */
  promotion: z.array(z.string()).default([]),
  /** The team's time zone, for freeze windows and the times deploy refusals name (IANA, like Europe/Berlin). */
  time_zone: z.string().default('UTC').refine(validTimeZone, 'must be an IANA time zone like Europe/Berlin'),
  /** Where stories become issues ("Create issue", `story … --issue`). */
  issues: issueTrackerSchema.optional(),
  /** Where stories become feature files ("Open PR", `story … --pr`). */
  features: z.object({ path: z.string().default('features/'), steps_path: z.string().optional() }).default({ path: 'features/' }),
  /** URLs told about the project's run events, signed. */
  webhooks: z.array(webhookSchema).default([]),
});

export type FileProject = z.infer<typeof projectSchema>;
/** A webhook subscription with its secret read from the environment (`secret_env`). */
export type WebhookSubscription = Omit<FileProject['webhooks'][number], 'secret_env'> & { secret: string };
export type ProjectConfig = Omit<FileProject, 'webhooks'> & { webhooks: WebhookSubscription[] };

export const fileSchema = z
  .object({
    admins: principals,
    /** People by name: their identities on every platform, linked as one person at start. */
    people: z.record(z.string().regex(NAME_RE, 'names are letters, digits, ., - and _'), z.object({ identities: z.array(z.string().regex(/^[a-z]+:.+$/, 'identities are platform:id')).min(1) })).default({}),
    /** Groups: members (people, handles) and the identity provider's group names that mean membership. */
    groups: z.record(z.string().regex(NAME_RE), z.object({ members: principals, sso: z.array(z.string()).default([]) })).default({}),
    projects: z.array(projectSchema).default([]),
    /** People's email addresses by handle (slack:U0LEAD: lead@acme.com), for approval requests and outcomes. */
    emails: z.record(z.string(), z.string().email()).default({}),
  })
  .superRefine((file, ctx) => {
    // A name that is neither a person nor a group is a typo that would silently grant nothing.
    const check = (list: string[], path: Array<string | number>) =>
      list.forEach((p, i) => {
        if (p.includes(':') || p === '*') {
          if (p.startsWith('group:') && !file.groups[p.slice(6)]) ctx.addIssue({ code: 'custom', path: [...path, i], message: `no group "${p.slice(6)}" is defined under groups` });
          return;
        }
        if (!file.people[p]) ctx.addIssue({ code: 'custom', path: [...path, i], message: `no person "${p}" is defined under people` });
      });
    check(file.admins, ['admins']);
    if (file.admins.includes('*')) ctx.addIssue({ code: 'custom', path: ['admins'], message: '"*" would make everyone an admin; name the admins' });
    for (const [name, g] of Object.entries(file.groups)) check(g.members, ['groups', name, 'members']);
    file.projects.forEach((p, i) => {
      for (const role of PROJECT_ROLES) check(p.roles[role] ?? [], ['projects', i, 'roles', role]);
      for (const [env, policy] of Object.entries(p.environments)) {
        check(policy.approvers, ['projects', i, 'environments', env, 'approvers']);
        check(policy.rollback?.approvers ?? [], ['projects', i, 'environments', env, 'rollback', 'approvers']);
        const soakIn = policy.soak_in ?? policy.requires;
        if (policy.soak_time && !soakIn) ctx.addIssue({ code: 'custom', path: ['projects', i, 'environments', env, 'soak_time'], message: 'soak_time needs soak_in (or requires): the environment the commit soaks in' });
        if (policy.soak_in && !p.environments[policy.soak_in]) ctx.addIssue({ code: 'custom', path: ['projects', i, 'environments', env, 'soak_in'], message: `no environment "${policy.soak_in}" in this project` });
      }
    });
  });

export type ConfigFile = z.infer<typeof fileSchema>;

/** What the access check needs from the file: admins, people and groups. */
export type AccessConfig = Pick<ConfigFile, 'admins' | 'people' | 'groups'>;
