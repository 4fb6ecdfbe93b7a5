import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Configuration is read and validated once at start, then passed in. Nothing else reads
 * process.env. A bad value stops the process with a message naming the variable.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyToUndefined, z.string().url().optional());

const envSchema = z.object({
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  PUBLIC_URL: optionalUrl,
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
  ),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./.autodevhub')),
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .default('redis://127.0.0.1:6379'),
  ),
  AUTODEVHUB_ROLE: z.preprocess(emptyToUndefined, z.enum(['all', 'web', 'worker']).default('all')),
  AUTODEVHUB_CONFIG: optionalString,
  AUTODEVHUB_SECRET: z.preprocess(emptyToUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
  AUTODEVHUB_QUEUE_PREFIX: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z0-9:_-]+$/i).default('autodevhub')),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_BOT_TOKEN: optionalString,
  SLACK_API_URL: z.preprocess(emptyToUndefined, z.string().url().default('https://slack.com/api/')),
  DISCORD_PUBLIC_KEY: z.preprocess(emptyToUndefined, z.string().regex(/^[0-9a-f]{64}$/i, 'must be the 64 hex characters of the application public key').optional()),
  DISCORD_APPLICATION_ID: optionalString,
  DISCORD_BOT_TOKEN: optionalString,
  DISCORD_API_URL: z.preprocess(emptyToUndefined, z.string().url().default('https://discord.com/api')),
  MICROSOFT_APP_ID: optionalString,
  MICROSOFT_APP_PASSWORD: optionalString,
  MICROSOFT_APP_TENANT_ID: optionalString,
  MICROSOFT_APP_TYPE: z.preprocess(emptyToUndefined, z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('MultiTenant')),
  TEAMS_ALLOW_UNAUTHENTICATED: z.preprocess(emptyToUndefined, z.enum(['true', 'false']).default('false')),
  BOTFRAMEWORK_OPENID_METADATA_URL: optionalUrl,
  BOTFRAMEWORK_TOKEN_ISSUER: optionalString,
  BOTFRAMEWORK_LOGIN_URL: optionalUrl,
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  ANTHROPIC_MODEL: z.preprocess(emptyToUndefined, z.string().default('claude-sonnet-4-5')),
  GITHUB_TOKEN: optionalString,
  GITHUB_API_URL: z.preprocess(emptyToUndefined, z.string().url().default('https://api.github.com')),
  GITHUB_WEBHOOK_SECRET: optionalString,
  DOCS_AI_BUDGET_CHARS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1000).default(60_000)),
  DEPLOY_POLL_BASE_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(10).default(5000)),
  STORY_CACHE_TTL_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(3600)),
  WORKER_CONCURRENCY: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(256).default(8)),
});

const DURATION_RE = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "30m", "1h", "2d" → milliseconds. */
export function parseDuration(value: string): number {
  const m = DURATION_RE.exec(value.trim());
  if (!m) throw new ConfigError(`"${value}" is not a duration like 30m, 1h or 2d`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => DURATION_RE.test(v.trim()), 'must be a duration like 30m, 1h or 2d')
    .transform((v) => parseDuration(v));

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
  })
  .refine((p) => p.required_approvals <= p.approvers.length || p.approvers.length === 0, {
    message: 'required_approvals is more than the approvers listed',
  });

export type EnvironmentPolicy = z.infer<typeof environmentPolicySchema>;

const fileSchema = z.object({
  admins: z.array(z.string()).default([]),
  projects: z
    .array(
      z.object({
        key: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'project keys are letters, digits, - and _'),
        repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'repo must be owner/name').optional(),
        channels: z.array(z.string()).default([]),
        environments: z.record(z.string(), environmentPolicySchema).default({}),
        docs: z.object({ path: z.string().default('docs/'), mode: z.string().default('pull_request') }).optional(),
      }),
    )
    .default([]),
});

export type ProjectConfig = z.infer<typeof fileSchema>['projects'][number];

export interface SlackConfig {
  signingSecret: string;
  botToken: string;
  apiUrl: string;
}

export interface DiscordConfig {
  publicKey: string;
  applicationId: string;
  botToken: string;
  apiUrl: string;
}

export interface TeamsConfig {
  /** Empty only in the explicitly flagged local-testing mode. */
  appId: string;
  appPassword: string | undefined;
  tenantId: string | undefined;
  appType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
  unauthenticated: boolean;
  /** Sovereign clouds and tests: where incoming tokens' keys and issuer come from, and the login authority. */
  openIdMetadataUrl: string | undefined;
  tokenIssuer: string | undefined;
  loginUrl: string | undefined;
}

export interface AppConfig {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string;
  role: 'all' | 'web' | 'worker';
  secret: string;
  queuePrefix: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  workerConcurrency: number;
  storyCacheTtlSeconds: number;
  /** First wait when polling GitHub (checks, deployment status); doubles up to 60 s. */
  deployPollBaseMs: number;
  /** How much diff the docs generator reads; the rest is listed as left out. */
  docsBudgetChars: number;
  slack: SlackConfig | { disabled: string };
  discord: DiscordConfig | { disabled: string };
  teams: TeamsConfig | { disabled: string };
  github: { token: string; apiUrl: string; webhookSecret: string | undefined } | { disabled: string; apiUrl: string };
  anthropic: { apiKey: string; baseUrl: string | undefined; model: string } | undefined;
  admins: string[];
  projects: ProjectConfig[];
}

function formatZodError(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : source}: ${issue.message}`)
    .join('; ');
}

function loadFile(path: string | undefined, required: boolean): z.infer<typeof fileSchema> {
  if (!path || !existsSync(path)) {
    if (required) throw new ConfigError(`AUTODEVHUB_CONFIG: file not found: ${path}`);
    return fileSchema.parse({});
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new ConfigError(`AUTODEVHUB_CONFIG: ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`AUTODEVHUB_CONFIG (${path}): ${formatZodError(parsed.error, 'file')}`);
  return parsed.data;
}

/** The widget/API signing secret: explicit, or generated once into DATA_DIR so restarts keep sessions. */
function resolveSecret(explicit: string | undefined, dataDir: string): string {
  if (explicit) return explicit;
  const file = join(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(`Invalid configuration: ${formatZodError(parsed.error, 'env')}`);
  const e = parsed.data;
  const dataDir = resolve(e.DATA_DIR);
  const configPath = e.AUTODEVHUB_CONFIG ?? (existsSync('autodevhub.yaml') ? 'autodevhub.yaml' : undefined);
  const file = loadFile(configPath, Boolean(e.AUTODEVHUB_CONFIG));

  if (!e.DATABASE_URL && e.AUTODEVHUB_ROLE !== 'all') {
    throw new ConfigError(
      `DATABASE_URL: required when AUTODEVHUB_ROLE=${e.AUTODEVHUB_ROLE}; the embedded database serves one process only`,
    );
  }

  const missingSlack = ['SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN'].filter((k) => !e[k as keyof typeof e]);
  const slack: AppConfig['slack'] =
    missingSlack.length === 0
      ? { signingSecret: e.SLACK_SIGNING_SECRET!, botToken: e.SLACK_BOT_TOKEN!, apiUrl: withTrailingSlash(e.SLACK_API_URL) }
      : { disabled: `Slack is not configured: set ${missingSlack.join(' and ')}` };

  const missingDiscord = ['DISCORD_PUBLIC_KEY', 'DISCORD_APPLICATION_ID', 'DISCORD_BOT_TOKEN'].filter((k) => !e[k as keyof typeof e]);
  const discord: AppConfig['discord'] =
    missingDiscord.length === 0
      ? { publicKey: e.DISCORD_PUBLIC_KEY!, applicationId: e.DISCORD_APPLICATION_ID!, botToken: e.DISCORD_BOT_TOKEN!, apiUrl: e.DISCORD_API_URL.replace(/\/$/, '') }
      : { disabled: `Discord is not configured: set ${missingDiscord.join(', ')}` };

  // Without an app id botbuilder accepts unauthenticated activities and posts to whatever
  // serviceUrl a sender writes: that mode exists only behind an explicit local-testing flag.
  const teamsBase = {
    tenantId: e.MICROSOFT_APP_TENANT_ID,
    appType: e.MICROSOFT_APP_TYPE,
    openIdMetadataUrl: e.BOTFRAMEWORK_OPENID_METADATA_URL,
    tokenIssuer: e.BOTFRAMEWORK_TOKEN_ISSUER,
    loginUrl: e.BOTFRAMEWORK_LOGIN_URL,
  };
  const teams: AppConfig['teams'] =
    e.MICROSOFT_APP_ID && (e.MICROSOFT_APP_PASSWORD || e.MICROSOFT_APP_TYPE === 'UserAssignedMSI')
      ? { ...teamsBase, appId: e.MICROSOFT_APP_ID, appPassword: e.MICROSOFT_APP_PASSWORD, unauthenticated: false }
      : e.TEAMS_ALLOW_UNAUTHENTICATED === 'true'
        ? { ...teamsBase, appId: '', appPassword: undefined, unauthenticated: true }
        : { disabled: `Teams is not configured: set ${e.MICROSOFT_APP_ID ? 'MICROSOFT_APP_PASSWORD' : 'MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD'}` };

  const displayHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://${displayHost}:${e.PORT}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir,
    redisUrl: e.REDIS_URL,
    role: e.AUTODEVHUB_ROLE,
    secret: resolveSecret(e.AUTODEVHUB_SECRET, dataDir),
    queuePrefix: e.AUTODEVHUB_QUEUE_PREFIX,
    logLevel: e.LOG_LEVEL,
    workerConcurrency: e.WORKER_CONCURRENCY,
    storyCacheTtlSeconds: e.STORY_CACHE_TTL_SECONDS,
    deployPollBaseMs: e.DEPLOY_POLL_BASE_MS,
    docsBudgetChars: e.DOCS_AI_BUDGET_CHARS,
    slack,
    discord,
    teams,
    github: e.GITHUB_TOKEN
      ? { token: e.GITHUB_TOKEN, apiUrl: e.GITHUB_API_URL.replace(/\/$/, ''), webhookSecret: e.GITHUB_WEBHOOK_SECRET }
      : { disabled: 'GitHub is not configured: set GITHUB_TOKEN', apiUrl: e.GITHUB_API_URL.replace(/\/$/, '') },
    anthropic: e.ANTHROPIC_API_KEY
      ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL, model: e.ANTHROPIC_MODEL }
      : undefined,
    admins: file.admins,
    projects: file.projects,
  };
}

function withTrailingSlash(url: string): string {
  // The Slack WebClient joins method names onto this URL; without the slash it drops "/api".
  return url.endsWith('/') ? url : `${url}/`;
}
