import { defineEntity, p } from '@mikro-orm/core';

/**
 * Entities are defined with defineEntity (no decorators, no reflect-metadata), so tsx, vitest and
 * tsc all see the same metadata. Table shapes are owned by migrations/; keep both in step.
 */

export const RUN_STATUSES = ['queued', 'running', 'waiting_approval', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type RunKind = 'story' | 'docs' | 'deploy';
export const FINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled'];

const createdAt = () => p.datetime().onCreate(() => new Date());

export const Project = defineEntity({
  name: 'Project',
  tableName: 'projects',
  properties: {
    id: p.integer().primary().autoincrement(),
    key: p.string().unique(),
    repo: p.string().nullable(),
    createdAt: createdAt(),
  },
});

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary().autoincrement(),
    displayName: p.string().nullable(),
    createdAt: createdAt(),
  },
});

export const Identity = defineEntity({
  name: 'Identity',
  tableName: 'identities',
  properties: {
    id: p.integer().primary().autoincrement(),
    userId: p.integer(),
    /** platform:external id, e.g. slack:U0123 */
    handle: p.string().unique(),
    displayName: p.string().nullable(),
    createdAt: createdAt(),
  },
});

export const ChannelLink = defineEntity({
  name: 'ChannelLink',
  tableName: 'channel_links',
  properties: {
    id: p.integer().primary().autoincrement(),
    projectKey: p.string(),
    /** platform:channel id, e.g. slack:C0123 */
    channel: p.string().unique(),
    createdBy: p.string().nullable(),
    createdAt: createdAt(),
  },
});

export const WorkflowRun = defineEntity({
  name: 'WorkflowRun',
  tableName: 'workflow_runs',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    number: p.integer().unique(),
    kind: p.string().$type<RunKind>(),
    status: p.string().$type<RunStatus>(),
    stage: p.string().nullable(),
    progress: p.integer().default(0),
    projectKey: p.string().nullable(),
    requestedBy: p.string(),
    sourcePlatform: p.string(),
    channel: p.string().nullable(),
    /** The message that follows the run in chat, e.g. slack:C0123:1712345678.000100 */
    threadRef: p.string().nullable(),
    input: p.json<Record<string, unknown>>(),
    result: p.json<Record<string, unknown>>().nullable(),
    error: p.text().nullable(),
    lastSeq: p.integer().default(0),
    /** The last seq rendered into the chat thread (chat delivery renders the latest state only). */
    chatSeq: p.integer().default(0),
    createdAt: createdAt(),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    finishedAt: p.datetime().nullable(),
  },
});

export const RunEvent = defineEntity({
  name: 'RunEvent',
  tableName: 'run_events',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    seq: p.integer(),
    stage: p.string().nullable(),
    status: p.string().$type<RunStatus>(),
    progress: p.integer(),
    message: p.text(),
    data: p.json<Record<string, unknown>>().nullable(),
    at: p.datetime(),
  },
});

export const UserStory = defineEntity({
  name: 'UserStory',
  tableName: 'user_stories',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number'),
    featureDescription: p.text(),
    normalizedKey: p.string(),
    gherkin: p.text(),
    confidenceScore: p.double().$type<number>(),
    status: p.string().$type<'draft' | 'accepted' | 'superseded'>(),
    provider: p.string(),
    model: p.string(),
    inputTokens: p.integer().nullable(),
    outputTokens: p.integer().nullable(),
    latencyMs: p.integer(),
    cached: p.boolean().default(false),
    version: p.integer().default(1),
    parentId: p.bigint('number').nullable(),
    acceptedBy: p.string().nullable(),
    acceptedAt: p.datetime().nullable(),
    metadata: p.json<Record<string, unknown>>().nullable(),
    createdAt: createdAt(),
  },
});

export const AuditLog = defineEntity({
  name: 'AuditLog',
  tableName: 'audit_logs',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    actor: p.string(),
    action: p.string(),
    target: p.string().nullable(),
    source: p.string().nullable(),
    data: p.json<Record<string, unknown>>().nullable(),
    at: createdAt(),
  },
});

export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_tokens',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    kind: p.string().$type<'signin' | 'widget' | 'api'>(),
    name: p.string().nullable(),
    tokenHash: p.string().unique(),
    subject: p.string(),
    projectKey: p.string().nullable(),
    expiresAt: p.datetime().nullable(),
    usedAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: createdAt(),
  },
});

export const ProcessedDelivery = defineEntity({
  name: 'ProcessedDelivery',
  tableName: 'processed_deliveries',
  uniques: [{ properties: ['platform', 'deliveryId'] }],
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    platform: p.string(),
    deliveryId: p.string(),
    runId: p.bigint('number').nullable(),
    createdAt: createdAt(),
  },
});

export const Documentation = defineEntity({
  name: 'Documentation',
  tableName: 'documentation',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    runId: p.bigint('number').unique(),
    projectKey: p.string(),
    docType: p.string(),
    title: p.string(),
    content: p.text(),
    filePath: p.string(),
    versionInfo: p.json<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
});

export const entities = [
  Documentation,
  Project,
  User,
  Identity,
  ChannelLink,
  WorkflowRun,
  RunEvent,
  UserStory,
  AuditLog,
  ApiToken,
  ProcessedDelivery,
];
