import { defineEntity, p } from '@mikro-orm/core';
import type { RunKind, RunStatus } from '../runs/model.js';

/**
 * One entity per table, defined with defineEntity (no decorators, no reflect-metadata), so tsx,
 * vitest and tsc see the same metadata. Table shapes are owned by migrations/; a test compares
 * these entities with the migrated schema, so the two cannot drift apart unnoticed.
 *
 * Entities are used for ordinary reads and writes and in transactions; the run's hot paths
 * (group-commit intake, gap-free event append) are single SQL statements in runs/store.ts.
 */

const createdAt = () => p.datetime().defaultRaw('now()').onCreate(() => new Date());

export const Project = defineEntity({
  name: 'Project',
  tableName: 'projects',
  properties: {
    id: p.integer().primary().autoincrement(),
    key: p.text().unique('projects_key_key'),
    repo: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary().autoincrement(),
    displayName: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const Identity = defineEntity({
  name: 'Identity',
  tableName: 'identities',
  properties: {
    id: p.integer().primary().autoincrement(),
    userId: p.manyToOne(User).mapToPk().fieldName('user_id').deleteRule('cascade'),
    /** platform:external id, e.g. slack:U0123 */
    handle: p.text().unique('identities_handle_key'),
    displayName: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const ChannelLink = defineEntity({
  name: 'ChannelLink',
  tableName: 'channel_links',
  properties: {
    id: p.integer().primary().autoincrement(),
    projectKey: p.text(),
    /** platform:channel id, e.g. slack:C0123 */
    channel: p.text().unique('channel_links_channel_key'),
    createdBy: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const WorkflowRun = defineEntity({
  name: 'WorkflowRun',
  tableName: 'workflow_runs',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    number: p.integer().unique('workflow_runs_number_key').defaultRaw(`nextval('run_number_seq')`),
    kind: p.text().$type<RunKind>(),
    status: p.text().$type<RunStatus>(),
    stage: p.text().nullable(),
    progress: p.integer().default(0),
    projectKey: p.text().nullable(),
    requestedBy: p.text(),
    sourcePlatform: p.text(),
    channel: p.text().nullable(),
    threadRef: p.text().nullable(),
    input: p.json<Record<string, unknown>>(),
    result: p.json<Record<string, unknown>>().nullable(),
    error: p.text().nullable(),
    lastSeq: p.integer().default(0),
    /** The last seq rendered into the chat thread (chat delivery renders the latest state only). */
    chatSeq: p.integer().default(0),
    chatRefs: p.json<Record<string, string>>().defaultRaw(`'{}'::jsonb`),
    /** The last seq whose notifications (webhooks, email) have been handed out. */
    notifiedSeq: p.integer().default(0),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
    finishedAt: p.datetime().nullable(),
  },
});

export const RunEvent = defineEntity({
  name: 'RunEvent',
  tableName: 'run_events',
  uniques: [{ properties: ['runId', 'seq'], name: 'run_events_run_id_seq_key' }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade'),
    seq: p.integer(),
    stage: p.text().nullable(),
    status: p.text().$type<RunStatus>(),
    progress: p.integer(),
    message: p.text(),
    data: p.json<Record<string, unknown>>().nullable(),
    at: p.datetime().defaultRaw('now()'),
  },
});

export const UserStory = defineEntity({
  name: 'UserStory',
  tableName: 'user_stories',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade').unique('user_stories_run_idx'),
    featureDescription: p.text(),
    normalizedKey: p.text(),
    gherkin: p.text(),
    confidenceScore: p.double().$type<number>(),
    status: p.text().$type<'draft' | 'accepted' | 'superseded'>().default('draft'),
    provider: p.text(),
    model: p.text(),
    inputTokens: p.integer().nullable(),
    outputTokens: p.integer().nullable(),
    latencyMs: p.integer(),
    cached: p.boolean().default(false),
    version: p.integer().default(1),
    acceptedBy: p.text().nullable(),
    acceptedAt: p.datetime().nullable(),
    metadata: p.json<Record<string, unknown>>().nullable(),
    openQuestions: p.json<string[]>().default([]),
    cacheReadTokens: p.integer().nullable(),
    cacheWriteTokens: p.integer().nullable(),
    costUsd: p.decimal('number').nullable(),
    createdAt: createdAt(),
  },
});

// A story's earlier version is a story: the self-reference is added once the schema exists.
UserStory.addManyToOne('parentId' as never, 'UserStory', { entity: () => UserStory, mapToPk: true, fieldName: 'parent_id', deleteRule: 'set null', nullable: true });

export const AuditLog = defineEntity({
  name: 'AuditLog',
  tableName: 'audit_logs',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    actor: p.text(),
    action: p.text(),
    target: p.text().nullable(),
    source: p.text().nullable(),
    data: p.json<Record<string, unknown>>().nullable(),
    at: createdAt(),
    /** The chain (filled by the database's insert trigger): position, previous row's hash, this row's hash. */
    seq: p.bigint('number').unique('audit_logs_seq_idx'),
    prevHash: p.text(),
    hash: p.text(),
    /** Given by the writer, else from data.project or the run the target names (the trigger). */
    projectKey: p.text().nullable(),
  },
});

/** Where a pruned audit chain continues from: the seq and hash of the last row removed. */
export const AuditAnchor = defineEntity({
  name: 'AuditAnchor',
  tableName: 'audit_anchors',
  properties: {
    throughSeq: p.bigint('number').primary(),
    hash: p.text(),
    at: p.datetime(),
    prunedAt: p.datetime().defaultRaw('now()'),
  },
});

export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_tokens',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    kind: p.text().$type<'signin' | 'widget' | 'api' | 'link'>(),
    name: p.text().nullable(),
    tokenHash: p.text().unique('api_tokens_token_hash_key'),
    subject: p.text(),
    projectKey: p.text().nullable(),
    expiresAt: p.datetime().nullable(),
    usedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    /** API tokens: what they may do (read, run, deploy, approve, admin). */
    scopes: p.json<string[]>().nullable(),
    lastUsedAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});

/** Roles granted at run time by an admin, on top of the YAML file. project_key '*' = every project. */
export const RoleGrant = defineEntity({
  name: 'RoleGrant',
  tableName: 'role_grants',
  uniques: [{ properties: ['principal', 'projectKey'], name: 'role_grants_principal_project_key_key' }],
  properties: {
    id: p.integer().primary().autoincrement(),
    /** A handle (slack:U1), a person (user:12) or a group (group:platform). */
    principal: p.text(),
    projectKey: p.text(),
    role: p.text().$type<'admin' | 'maintainer' | 'developer' | 'viewer'>(),
    createdBy: p.text(),
    createdAt: createdAt(),
  },
});

/** Console sessions, server-side: the cookie holds a random token, this row its hash. */
export const Session = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    tokenHash: p.text().unique('sessions_token_hash_key'),
    /** The handle signed in: web:admin (one-time link) or sso:<subject>. */
    subject: p.text(),
    /** Groups the identity provider named at sign-in. */
    groups: p.json<string[]>().defaultRaw(`'[]'::jsonb`),
    displayName: p.text().nullable(),
    ip: p.text().nullable(),
    userAgent: p.text().nullable(),
    createdAt: createdAt(),
    lastSeenAt: p.datetime().defaultRaw('now()'),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
  },
});

export const ProcessedDelivery = defineEntity({
  name: 'ProcessedDelivery',
  tableName: 'processed_deliveries',
  uniques: [{ properties: ['platform', 'deliveryId'], name: 'processed_deliveries_platform_delivery_id_key' }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    platform: p.text(),
    deliveryId: p.text(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade').nullable(),
    /** A hash of the request (API Idempotency-Key): a reused key with another body is refused. */
    requestHash: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const Approval = defineEntity({
  name: 'Approval',
  tableName: 'approvals',
  uniques: [{ properties: ['runId', 'person'], name: 'approvals_run_id_person_key' }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade'),
    /** The handle that decided (slack:U1). */
    approver: p.text(),
    /** Who that is as a person: user:<id> when linked, else the handle. One decision per person. */
    person: p.text(),
    decision: p.text().$type<'approve' | 'reject'>(),
    reason: p.text().nullable(),
    source: p.text().nullable(),
    createdAt: createdAt(),
  },
});

export const Deployment = defineEntity({
  name: 'Deployment',
  tableName: 'deployments',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade').unique('deployments_run_id_key'),
    repo: p.text(),
    environment: p.text(),
    sha: p.text(),
    githubDeploymentId: p.bigint('number'),
    state: p.text().default('created'),
    environmentUrl: p.text().nullable(),
    logUrl: p.text().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export const Documentation = defineEntity({
  name: 'Documentation',
  tableName: 'documentation',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade').unique('documentation_run_id_key'),
    projectKey: p.text(),
    docType: p.text(),
    title: p.text(),
    content: p.text(),
    filePath: p.text(),
    versionInfo: p.json<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
});

export const StoryExport = defineEntity({
  name: 'StoryExport',
  tableName: 'story_exports',
  uniques: [{ properties: ['storyId', 'kind'], name: 'story_exports_story_id_kind_key' }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    storyId: p.manyToOne(UserStory).mapToPk().fieldName('story_id').deleteRule('cascade'),
    kind: p.text().$type<'issue' | 'pull_request'>(),
    /** github, jira, linear (issues) or github (pull requests). */
    target: p.text(),
    state: p.text().$type<'pending' | 'done' | 'failed'>().default('pending'),
    externalId: p.text().nullable(),
    url: p.text().nullable(),
    error: p.text().nullable(),
    requestedBy: p.text(),
    claimedAt: p.datetime().defaultRaw('now()'),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    projectKey: p.text(),
    url: p.text(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade'),
    seq: p.integer(),
    event: p.text(),
    payload: p.json<Record<string, unknown>>(),
    state: p.text().$type<'pending' | 'delivered' | 'failed' | 'refused'>().default('pending'),
    attempts: p.integer().default(0),
    responseStatus: p.integer().nullable(),
    responseBody: p.text().nullable(),
    error: p.text().nullable(),
    requestedBy: p.text().nullable(),
    deliveredAt: p.datetime().nullable(),
    createdAt: createdAt(),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

// A redelivery points at the delivery it repeats.
WebhookDelivery.addManyToOne('redeliveryOf' as never, 'WebhookDelivery', { entity: () => WebhookDelivery, mapToPk: true, fieldName: 'redelivery_of', deleteRule: 'set null', nullable: true });

export const Notification = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  uniques: [{ properties: ['runId', 'channel', 'recipient', 'kind'], name: 'notifications_run_id_channel_recipient_kind_key' }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.manyToOne(WorkflowRun).mapToPk().fieldName('run_id').deleteRule('cascade'),
    channel: p.text(),
    recipient: p.text(),
    kind: p.text(),
    state: p.text().default('sending'),
    error: p.text().nullable(),
    createdAt: createdAt(),
  },
});

/** The one row naming this installation (see migrations/Migration20261122020000_installation.ts). */
export const Installation = defineEntity({
  name: 'Installation',
  tableName: 'installation',
  properties: {
    id: p.string().primary(),
    singleton: p.boolean(),
    createdAt: createdAt(),
  },
});

/** Deploy safety: the run that has each environment and the one waiting for it (one row per environment). */
export const EnvironmentQueue = defineEntity({
  name: 'EnvironmentQueue',
  tableName: 'environment_queue',
  properties: {
    repo: p.text().primary(),
    environment: p.text().primary(),
    activeRunId: p.manyToOne(WorkflowRun).mapToPk().fieldName('active_run_id').deleteRule('set null').nullable().unique('environment_queue_active_key'),
    waitingRunId: p.manyToOne(WorkflowRun).mapToPk().fieldName('waiting_run_id').deleteRule('set null').nullable().unique('environment_queue_waiting_key'),
    updatedAt: p.datetime().defaultRaw('now()').onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

/** A lock on an environment: only its holder deploys there until it is released or runs out. */
export const EnvironmentLock = defineEntity({
  name: 'EnvironmentLock',
  tableName: 'environment_locks',
  properties: {
    repo: p.text().primary(),
    environment: p.text().primary(),
    holder: p.text(),
    person: p.text(),
    reason: p.text().nullable(),
    expiresAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});

export const entities = [
  Installation,
  Project,
  User,
  Identity,
  ChannelLink,
  WorkflowRun,
  RunEvent,
  UserStory,
  AuditLog,
  AuditAnchor,
  ApiToken,
  RoleGrant,
  Session,
  ProcessedDelivery,
  Approval,
  Deployment,
  Documentation,
  StoryExport,
  WebhookDelivery,
  Notification,
  EnvironmentQueue,
  EnvironmentLock,
];
