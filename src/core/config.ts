import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fileSchema, parseDuration, type AccessConfig, type ConfigFile, type EnvironmentPolicy, type TimeWindow, type FileProject, type IssueTrackerConfig, type ProjectConfig, type SmokeCheck, type WebhookSubscription } from './config-file.js';

export { parseDuration, type AccessConfig, type EnvironmentPolicy, type TimeWindow, type IssueTrackerConfig, type ProjectConfig, type SmokeCheck, type WebhookSubscription };

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

/** "30/1m": 30 per minute. */
const RATE_RE = /^(\d+)\s*\/\s*(\d+\s*[smhd])$/;
function rate(fallback: string) {
  return z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback)
      .refine((v) => RATE_RE.test(v.trim()), 'must be a rate like 30/1m (30 per minute) or 5/10s')
      .transform((v) => {
        const [, points, per] = RATE_RE.exec(v.trim())!;
        return { points: Number(points), durationMs: parseDuration(per!) };
      }),
  );
}

export interface RateLimit {
  points: number;
  durationMs: number;
}

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
  // Unset is not the same as 127.0.0.1:6379: unset lets AutoDevHub find or run a Redis itself.
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// URL')
      .optional(),
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
  // The Agents SDK derives the signing keys from the authority (BOTFRAMEWORK_LOGIN_URL): a
  // separate metadata URL would be silently ignored, so it is refused by name.
  BOTFRAMEWORK_OPENID_METADATA_URL: z.preprocess(emptyToUndefined, z.undefined({ error: 'no longer used: set BOTFRAMEWORK_LOGIN_URL (the authority; keys are read from <authority>/<tenant>/discovery/v2.0/keys)' }).optional()),
  BOTFRAMEWORK_TOKEN_ISSUER: optionalString,
  BOTFRAMEWORK_LOGIN_URL: optionalUrl,
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalUrl,
  ANTHROPIC_MODEL: z.preprocess(emptyToUndefined, z.string().default('claude-sonnet-5-5')),
  AI_PROVIDER: z.preprocess(emptyToUndefined, z.enum(['claude', 'openai', 'offline']).optional()),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: optionalString,
  OPENAI_TIMEOUT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(100).max(1_800_000).default(120_000)),
  OPENAI_MAX_RETRIES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(10).default(2)),
  OPENAI_PRICE_PER_MTOK: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^\s*\d+(\.\d+)?\s*,\s*\d+(\.\d+)?\s*$/, 'must be "input,output" US dollars per million tokens, e.g. 0.15,0.6 (0,0 for a model that costs nothing)')
      .optional(),
  ),
  AZURE_OPENAI_ENDPOINT: optionalUrl,
  AZURE_OPENAI_API_KEY: optionalString,
  AZURE_OPENAI_API_VERSION: z.preprocess(emptyToUndefined, z.string().default('2024-10-21')),
  AZURE_OPENAI_DEPLOYMENT: optionalString,
  GITHUB_TOKEN: optionalString,
  GITHUB_API_URL: z.preprocess(emptyToUndefined, z.string().url().default('https://api.github.com')),
  GITHUB_WEBHOOK_SECRET: optionalString,
  DOCS_AI_BUDGET_CHARS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1000).default(60_000)),
  DEPLOY_POLL_BASE_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(10).default(5000)),
  STORY_CACHE_TTL_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(3600)),
  WORKER_CONCURRENCY: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(256).default(8)),
  SWEEP_INTERVAL_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().min(0.1).max(3600).default(10)),
  CHAT_SWEEP_GRACE_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(86_400).default(30)),
  DELIVERY_RETENTION_DAYS: z.preprocess(emptyToUndefined, z.coerce.number().min(1).max(3650).default(7)),
  RUN_EVENT_RETENTION_DAYS: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(36_500).default(0)),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_SERVICE_NAME: z.preprocess(emptyToUndefined, z.string().default('autodevhub')),
  AUDIT_RETENTION_DAYS: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(36_500).default(0)),
  JIRA_BASE_URL: optionalUrl,
  JIRA_EMAIL: optionalString,
  JIRA_API_TOKEN: optionalString,
  LINEAR_API_KEY: optionalString,
  LINEAR_API_URL: z.preprocess(emptyToUndefined, z.string().url().default('https://api.linear.app/graphql')),
  SMTP_URL: z.preprocess(emptyToUndefined, z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional()),
  EMAIL_FROM: z.preprocess(emptyToUndefined, z.string().min(3).default('AutoDevHub <autodevhub@localhost>')),
  WEBHOOK_ALLOW_PRIVATE_CIDRS: z.preprocess(emptyToUndefined, z.string().default('')),
  WEBHOOK_TIMEOUT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(100).max(60_000).default(10_000)),
  WEBHOOK_ATTEMPTS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(6)),
  WEBHOOK_BACKOFF_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(10).max(3_600_000).default(10_000)),
  READYZ_CACHE_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().min(0).max(300).default(10)),
  RATE_LIMIT_COMMANDS: rate('30/1m'),
  RATE_LIMIT_API: rate('300/1m'),
  RATE_LIMIT_SIGNIN: rate('20/1m'),
  RATE_LIMIT_BAD_SIGNATURES: rate('30/1m'),
  RATE_LIMIT_SOCKETS: rate('120/1m'),
  SLACK_CHANNEL_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(60_000).default(1100)),
  SLACK_CHANNEL_BURST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(20).default(3)),
  TRUST_PROXY: z.preprocess(emptyToUndefined, z.string().regex(/^(true|false|[0-9])$/, 'must be true, false, or the number of proxies in front (0-9)').default('false')),
  SESSION_TTL_HOURS: z.preprocess(emptyToUndefined, z.coerce.number().min(0.01).max(24 * 90).default(168)),
  OIDC_ISSUER: optionalUrl,
  OIDC_CLIENT_ID: optionalString,
  OIDC_CLIENT_SECRET: optionalString,
  OIDC_SCOPES: z.preprocess(emptyToUndefined, z.string().default('openid email profile')),
  OIDC_GROUPS_CLAIM: z.preprocess(emptyToUndefined, z.string().default('groups')),
  OIDC_LABEL: z.preprocess(emptyToUndefined, z.string().max(40).default('single sign-on')),
});

/** Every environment variable the configuration reads (deployment manifests are checked against it). */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

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
  /** Sovereign clouds and tests: another accepted token issuer, and the Entra authority (login URL) that issues the bot's tokens and serves the keys. */
  tokenIssuer: string | undefined;
  loginUrl: string | undefined;
}

export interface AppConfig {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Unset: the Redis on 127.0.0.1:6379 if one answers, else a private redis-server (src/jobs/local-redis.ts). */
  redisUrl: string | undefined;
  /** The YAML file that was read, if any. */
  configFile: string | undefined;
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
  /** Traces: OTLP/HTTP endpoint; undefined loads nothing. */
  tracing: { endpoint: string; serviceName: string } | undefined;
  /** Recovery and chat sweeps, and retention (see jobs/sweeps.ts). */
  sweeps: { intervalMs: number; chatGraceMs: number; deliveryRetentionMs: number; eventRetentionMs: number; auditRetentionMs: number };
  slack: SlackConfig | { disabled: string };
  discord: DiscordConfig | { disabled: string };
  teams: TeamsConfig | { disabled: string };
  github: { token: string; apiUrl: string; webhookSecret: string | undefined } | { disabled: string; apiUrl: string };
  anthropic: { apiKey: string; baseUrl: string | undefined; model: string } | undefined;
  /** Who writes stories, documentation updates and change summaries (AI_PROVIDER, or chosen by which key is set). */
  aiProvider: 'claude' | 'openai' | 'offline';
  /** An OpenAI-compatible API (OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio); undefined when not configured. */
  openai: OpenAIConfig | undefined;
  jira: { baseUrl: string; email: string; apiToken: string } | undefined;
  linear: { apiKey: string; apiUrl: string } | undefined;
  /** Outgoing email (approval requests, outcomes); undefined: no email. */
  email: { smtpUrl: string; from: string } | undefined;
  /** Outgoing webhooks: private addresses are refused unless inside these CIDRs. */
  webhooks: { allowPrivateCidrs: string[]; timeoutMs: number; attempts: number; backoffMs: number };
  /** /readyz answers outside services' checks (GitHub, Slack, Discord) from this long ago, so probes cost them nothing. */
  readyzCacheMs: number;
  admins: string[];
  projects: ProjectConfig[];
  /** People's email addresses by handle. */
  emails: Record<string, string>;
  /** People and groups from the YAML file (who holds which role is in `projects[].roles`). */
  access: AccessConfig;
  /** Per person (commands), per token or session (API), per IP (sign-in, failed signatures), per widget token (sockets). */
  limits: { commands: RateLimit; api: RateLimit; signin: RateLimit; badSignatures: RateLimit; sockets: RateLimit };
  /** Slack allows about one message per second per channel: a channel's budget refills one message this often. */
  slackChannelIntervalMs: number;
  /** Messages one Slack channel takes at once before the per-second pace applies. */
  slackChannelBurst: number;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  /** Reverse proxies in front that append to X-Forwarded-For (0: trust none of it). */
  trustProxy: number;
  sessionTtlSeconds: number;
  /** Single sign-on through an OpenID Connect provider; undefined when not configured. */
  oidc: OidcConfig | undefined;
}

export interface OpenAIConfig {
  /** Unset for local servers that need none (Ollama, vLLM without --api-key). */
  apiKey: string | undefined;
  /** Unset: OpenAI's own API. */
  baseUrl: string | undefined;
  /** The model name sent with each request (for Azure: the deployment, unless OPENAI_MODEL names the model). */
  model: string;
  /** One call's budget, the SDK's retries included. */
  timeoutMs: number;
  maxRetries: number;
  /** US dollars per million tokens, from OPENAI_PRICE_PER_MTOK; undefined: looked up by model, 0 for a local server. */
  price: { input: number; output: number } | undefined;
  azure: { endpoint: string; apiVersion: string; deployment: string } | undefined;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  scopes: string;
  groupsClaim: string;
  label: string;
}

function formatZodError(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : source}: ${issue.message}`)
    .join('; ');
}

function loadFile(path: string | undefined, required: boolean): ConfigFile {
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
  const secret = randomBytes(32).toString('base64url');
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, secret, { mode: 0o600 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
    // A container's non-root user cannot create ./.autodevhub in the image: say what to change.
    throw new ConfigError(
      `DATA_DIR: ${dataDir} is not writable by this user (uid ${process.getuid?.() ?? '?'}): ${code}. ` +
        'Point DATA_DIR at a writable folder (a volume, in a container), or set AUTODEVHUB_SECRET.',
    );
  }
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
  if (!e.REDIS_URL && e.AUTODEVHUB_ROLE !== 'all') {
    throw new ConfigError(`REDIS_URL: required when AUTODEVHUB_ROLE=${e.AUTODEVHUB_ROLE}; web and worker processes must share one Redis`);
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

  // Without an app id the Teams SDK accepts unauthenticated activities and posts to whatever
  // serviceUrl a sender writes: that mode exists only behind an explicit local-testing flag.
  const teamsBase = {
    tenantId: e.MICROSOFT_APP_TENANT_ID,
    appType: e.MICROSOFT_APP_TYPE,
    tokenIssuer: e.BOTFRAMEWORK_TOKEN_ISSUER,
    loginUrl: e.BOTFRAMEWORK_LOGIN_URL,
  };
  const teams: AppConfig['teams'] =
    e.MICROSOFT_APP_ID && (e.MICROSOFT_APP_PASSWORD || e.MICROSOFT_APP_TYPE === 'UserAssignedMSI')
      ? { ...teamsBase, appId: e.MICROSOFT_APP_ID, appPassword: e.MICROSOFT_APP_PASSWORD, unauthenticated: false }
      : e.TEAMS_ALLOW_UNAUTHENTICATED === 'true'
        ? { ...teamsBase, appId: '', appPassword: undefined, unauthenticated: true }
        : { disabled: `Teams is not configured: set ${e.MICROSOFT_APP_ID ? 'MICROSOFT_APP_PASSWORD' : 'MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD'}` };

  const projects = file.projects.map((p) => ({ ...p, webhooks: p.webhooks.map((w) => webhookWithSecret(p.key, w, env)) }));
  for (const p of projects) checkPipeline(p);
  const cidrs = e.WEBHOOK_ALLOW_PRIVATE_CIDRS.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of cidrs) if (!isCidr(c)) throw new ConfigError(`WEBHOOK_ALLOW_PRIVATE_CIDRS: "${c}" is not a CIDR like 127.0.0.1/32 or ::1/128`);

  const aiProvider = aiProviderOf(e);
  const displayHost = e.HOST === '0.0.0.0' || e.HOST === '::' ? 'localhost' : e.HOST;
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://${displayHost}:${e.PORT}`).replace(/\/$/, ''),
    databaseUrl: e.DATABASE_URL,
    dataDir,
    redisUrl: e.REDIS_URL,
    configFile: configPath && existsSync(configPath) ? resolve(configPath) : undefined,
    role: e.AUTODEVHUB_ROLE,
    secret: resolveSecret(e.AUTODEVHUB_SECRET, dataDir),
    queuePrefix: e.AUTODEVHUB_QUEUE_PREFIX,
    logLevel: e.LOG_LEVEL,
    workerConcurrency: e.WORKER_CONCURRENCY,
    storyCacheTtlSeconds: e.STORY_CACHE_TTL_SECONDS,
    deployPollBaseMs: e.DEPLOY_POLL_BASE_MS,
    docsBudgetChars: e.DOCS_AI_BUDGET_CHARS,
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT ? { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, ''), serviceName: e.OTEL_SERVICE_NAME } : undefined,
    sweeps: {
      intervalMs: e.SWEEP_INTERVAL_SECONDS * 1000,
      chatGraceMs: e.CHAT_SWEEP_GRACE_SECONDS * 1000,
      deliveryRetentionMs: e.DELIVERY_RETENTION_DAYS * 86_400_000,
      eventRetentionMs: e.RUN_EVENT_RETENTION_DAYS * 86_400_000,
      auditRetentionMs: e.AUDIT_RETENTION_DAYS * 86_400_000,
    },
    slack,
    discord,
    teams,
    github: e.GITHUB_TOKEN
      ? { token: e.GITHUB_TOKEN, apiUrl: e.GITHUB_API_URL.replace(/\/$/, ''), webhookSecret: e.GITHUB_WEBHOOK_SECRET }
      : { disabled: 'GitHub is not configured: set GITHUB_TOKEN', apiUrl: e.GITHUB_API_URL.replace(/\/$/, '') },
    anthropic: e.ANTHROPIC_API_KEY
      ? { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL, model: e.ANTHROPIC_MODEL }
      : undefined,
    aiProvider,
    // Read only when chosen: a key left in the environment for another tool does not stop the start.
    openai: aiProvider === 'openai' ? openaiConfig(e) : undefined,
    jira: e.JIRA_BASE_URL && e.JIRA_EMAIL && e.JIRA_API_TOKEN ? { baseUrl: e.JIRA_BASE_URL.replace(/\/$/, ''), email: e.JIRA_EMAIL, apiToken: e.JIRA_API_TOKEN } : undefined,
    linear: e.LINEAR_API_KEY ? { apiKey: e.LINEAR_API_KEY, apiUrl: e.LINEAR_API_URL } : undefined,
    email: e.SMTP_URL ? { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM } : undefined,
    webhooks: { allowPrivateCidrs: cidrs, timeoutMs: e.WEBHOOK_TIMEOUT_MS, attempts: e.WEBHOOK_ATTEMPTS, backoffMs: e.WEBHOOK_BACKOFF_MS },
    readyzCacheMs: Math.round(e.READYZ_CACHE_SECONDS * 1000),
    admins: file.admins,
    projects,
    emails: file.emails,
    access: { admins: file.admins, people: file.people, groups: file.groups },
    limits: { commands: e.RATE_LIMIT_COMMANDS, api: e.RATE_LIMIT_API, signin: e.RATE_LIMIT_SIGNIN, badSignatures: e.RATE_LIMIT_BAD_SIGNATURES, sockets: e.RATE_LIMIT_SOCKETS },
    slackChannelIntervalMs: e.SLACK_CHANNEL_INTERVAL_MS,
    slackChannelBurst: e.SLACK_CHANNEL_BURST,
    trustProxy: e.TRUST_PROXY === 'true' ? 1 : e.TRUST_PROXY === 'false' ? 0 : Number(e.TRUST_PROXY),
    sessionTtlSeconds: Math.round(e.SESSION_TTL_HOURS * 3600),
    oidc: oidcConfig(e),
  };
}

/** AI_PROVIDER when set (and then its key must be there); else Claude if its key is set, else an OpenAI-compatible API if configured, else offline. */
function aiProviderOf(e: z.infer<typeof envSchema>): AppConfig['aiProvider'] {
  const openaiSet = Boolean(e.OPENAI_API_KEY || e.OPENAI_BASE_URL || e.AZURE_OPENAI_ENDPOINT);
  if (e.AI_PROVIDER === 'claude' && !e.ANTHROPIC_API_KEY) throw new ConfigError('ANTHROPIC_API_KEY: required when AI_PROVIDER=claude');
  if (e.AI_PROVIDER === 'openai' && !openaiSet) {
    throw new ConfigError('OPENAI_API_KEY: AI_PROVIDER=openai needs OPENAI_API_KEY (OpenAI), OPENAI_BASE_URL (a local server such as Ollama or vLLM) or AZURE_OPENAI_ENDPOINT (Azure OpenAI)');
  }
  if (e.AI_PROVIDER) return e.AI_PROVIDER;
  return e.ANTHROPIC_API_KEY ? 'claude' : openaiSet ? 'openai' : 'offline';
}

function openaiConfig(e: z.infer<typeof envSchema>): OpenAIConfig {
  if (e.AZURE_OPENAI_ENDPOINT && !e.AZURE_OPENAI_DEPLOYMENT) throw new ConfigError('AZURE_OPENAI_DEPLOYMENT: required with AZURE_OPENAI_ENDPOINT (the name of the model deployment)');
  if (e.AZURE_OPENAI_ENDPOINT && !e.AZURE_OPENAI_API_KEY && !e.OPENAI_API_KEY) throw new ConfigError('AZURE_OPENAI_API_KEY: required with AZURE_OPENAI_ENDPOINT');
  const model = e.OPENAI_MODEL ?? e.AZURE_OPENAI_DEPLOYMENT;
  // No default model: names differ between OpenAI, Ollama and vLLM, and a guessed one fails on the first story.
  if (!model) throw new ConfigError('OPENAI_MODEL: required with OPENAI_API_KEY or OPENAI_BASE_URL (e.g. gpt-4.1-mini, or llama3.1:8b for Ollama)');
  const [input, output] = (e.OPENAI_PRICE_PER_MTOK ?? '').split(',').map((v) => Number(v.trim()));
  return {
    apiKey: e.AZURE_OPENAI_ENDPOINT ? (e.AZURE_OPENAI_API_KEY ?? e.OPENAI_API_KEY) : e.OPENAI_API_KEY,
    baseUrl: e.AZURE_OPENAI_ENDPOINT ? undefined : e.OPENAI_BASE_URL?.replace(/\/$/, ''),
    model,
    timeoutMs: e.OPENAI_TIMEOUT_MS,
    maxRetries: e.OPENAI_MAX_RETRIES,
    price: e.OPENAI_PRICE_PER_MTOK ? { input: input!, output: output! } : undefined,
    azure: e.AZURE_OPENAI_ENDPOINT ? { endpoint: e.AZURE_OPENAI_ENDPOINT, apiVersion: e.AZURE_OPENAI_API_VERSION, deployment: e.AZURE_OPENAI_DEPLOYMENT! } : undefined,
  };
}

function oidcConfig(e: z.infer<typeof envSchema>): OidcConfig | undefined {
  if (!e.OIDC_ISSUER && !e.OIDC_CLIENT_ID) return undefined;
  if (!e.OIDC_ISSUER || !e.OIDC_CLIENT_ID) throw new ConfigError(`${e.OIDC_ISSUER ? 'OIDC_CLIENT_ID' : 'OIDC_ISSUER'}: single sign-on needs both OIDC_ISSUER and OIDC_CLIENT_ID`);
  return { issuer: e.OIDC_ISSUER, clientId: e.OIDC_CLIENT_ID, clientSecret: e.OIDC_CLIENT_SECRET, scopes: e.OIDC_SCOPES, groupsClaim: e.OIDC_GROUPS_CLAIM, label: e.OIDC_LABEL };
}

function webhookWithSecret(project: string, w: FileProject['webhooks'][number], env: Record<string, string | undefined>): WebhookSubscription {
  const secret = env[w.secret_env];
  if (!secret || secret.length < 16) throw new ConfigError(`${w.secret_env}: the signing secret of ${project}'s webhook ${w.url} must be set (at least 16 characters)`);
  return { url: w.url, kinds: w.kinds, statuses: w.statuses, secret };
}

/** Promotion steps and `requires` must name environments the project has. */
function checkPipeline(p: ProjectConfig): void {
  const envs = Object.keys(p.environments);
  for (const name of p.promotion) if (!envs.includes(name)) throw new ConfigError(`AUTODEVHUB_CONFIG: project ${p.key}: promotion names "${name}", which is not one of its environments (${envs.join(', ') || 'none'})`);
  for (const [name, policy] of Object.entries(p.environments)) {
    if (policy.requires && !envs.includes(policy.requires)) throw new ConfigError(`AUTODEVHUB_CONFIG: project ${p.key}: environment ${name} requires "${policy.requires}", which is not one of its environments`);
  }
}

function isCidr(value: string): boolean {
  const [addr, bits] = value.split('/');
  return Boolean(addr && bits && /^\d+$/.test(bits) && (/^[\d.]+$/.test(addr) || addr.includes(':')));
}

function withTrailingSlash(url: string): string {
  // The Slack WebClient joins method names onto this URL; without the slash it drops "/api".
  return url.endsWith('/') ? url : `${url}/`;
}

/** Every secret the configuration holds: the logger scrubs them from every line. */
export function secretsOf(config: AppConfig): string[] {
  const values = [
    config.secret,
    'signingSecret' in config.slack ? config.slack.signingSecret : undefined,
    'botToken' in config.slack ? config.slack.botToken : undefined,
    'botToken' in config.discord ? config.discord.botToken : undefined,
    'appPassword' in config.teams ? config.teams.appPassword : undefined,
    'token' in config.github ? config.github.token : undefined,
    'webhookSecret' in config.github ? config.github.webhookSecret : undefined,
    config.anthropic?.apiKey,
    config.openai?.apiKey,
    config.oidc?.clientSecret,
    config.jira?.apiToken,
    config.linear?.apiKey,
    config.email ? passwordOf(config.email.smtpUrl) : undefined,
    ...config.projects.flatMap((p) => p.webhooks.map((w) => w.secret)),
    ...[config.databaseUrl, config.redisUrl].map((u) => (u ? passwordOf(u) : undefined)),
  ];
  return values.filter((v): v is string => Boolean(v));
}

function passwordOf(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}
