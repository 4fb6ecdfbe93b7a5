import { z } from '@hono/zod-openapi';
import { RUN_KINDS, RUN_STATUSES } from '../../../core/runs/model.js';
import { SCOPES } from '../../../core/access/actions.js';

/** The API's shapes, shared by the routes and published in the OpenAPI document. */

export const ErrorBody = z
  .object({
    error: z.string().openapi({ description: 'A stable code: invalid_input, unauthorized, forbidden, not_found, conflict, rate_limited, …', example: 'forbidden' }),
    message: z.string().openapi({ description: 'What went wrong, for a person to read.' }),
    requestId: z.string().optional(),
    /** Command errors also carry the reply as chat would show it. */
    text: z.string().optional(),
    usage: z.string().optional(),
  })
  .openapi('Error');

export const ProjectKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be a project key (letters, digits, - and _)');

const nullableString = z.string().nullable();

export const Run = z
  .object({
    id: z.number().int(),
    ref: z.string().openapi({ example: 'R-1042' }),
    number: z.number().int(),
    kind: z.enum(RUN_KINDS),
    status: z.enum(RUN_STATUSES),
    stage: nullableString,
    progress: z.number().int(),
    projectKey: nullableString,
    requestedBy: z.string(),
    sourcePlatform: z.string(),
    channel: nullableString,
    threadRef: nullableString,
    input: z.record(z.string(), z.unknown()),
    result: z.record(z.string(), z.unknown()),
    error: nullableString,
    lastSeq: z.number().int(),
    chatSeq: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: nullableString,
    links: z.record(z.string(), z.string()),
  })
  .openapi('Run');

export const EventSchema = z
  .object({
    runId: z.number().int(),
    ref: z.string(),
    projectKey: nullableString,
    kind: z.enum(RUN_KINDS),
    seq: z.number().int(),
    stage: nullableString,
    status: z.enum(RUN_STATUSES),
    progress: z.number().int(),
    message: z.string(),
    at: z.string(),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('RunEventMessage');

export const Story = z
  .object({
    id: z.number().int(),
    runId: z.number().int(),
    featureDescription: z.string(),
    gherkin: z.string(),
    confidenceScore: z.number(),
    status: z.enum(['draft', 'accepted', 'superseded']),
    provider: z.string(),
    model: z.string(),
    inputTokens: z.number().int().nullable(),
    outputTokens: z.number().int().nullable(),
    latencyMs: z.number().int(),
    cached: z.boolean(),
    version: z.number().int(),
    parentId: z.number().int().nullable(),
    acceptedBy: nullableString,
    acceptedAt: nullableString,
    metadata: z.record(z.string(), z.unknown()),
    openQuestions: z.array(z.string()),
    cacheReadTokens: z.number().int().nullable(),
    cacheWriteTokens: z.number().int().nullable(),
    costUsd: z.number().nullable(),
  })
  .openapi('Story');

export const StoryExport = z
  .looseObject({ id: z.number().int(), storyId: z.number().int(), kind: z.enum(['issue', 'pull_request']), target: z.string(), state: z.enum(['pending', 'done', 'failed']), url: z.string().nullable() })
  .openapi('StoryExport');

export const RunDetail = z.object({ run: Run, events: z.array(EventSchema), story: Story.nullable(), exports: z.array(StoryExport) }).openapi('RunDetail');

export const CommandResult = z
  .object({
    text: z.string(),
    error: z.literal(false),
    duplicate: z.boolean(),
    queued: z.boolean().nullable().openapi({ description: 'false: stored, but the job queue is down; it starts when the queue is back. null: no run.' }),
    run: Run.nullable(),
  })
  .openapi('CommandResult');

export const Project = z.object({ key: z.string(), repo: nullableString, channels: z.array(z.string()) }).openapi('Project');

export const WidgetToken = z
  .object({ id: z.string(), projectKey: z.string(), name: nullableString, createdBy: z.string(), expiresAt: z.string(), revokedAt: nullableString })
  .openapi('WidgetToken');
export const NewWidgetToken = WidgetToken.extend({ token: z.string(), origins: z.array(z.string()), snippet: z.string() }).openapi('NewWidgetToken');

export const Scope = z.enum(SCOPES);
export const ApiToken = z
  .object({
    id: z.number().int(),
    name: z.string(),
    scopes: z.array(Scope),
    owner: z.string(),
    createdAt: z.string(),
    expiresAt: z.string(),
    lastUsedAt: nullableString,
    revokedAt: nullableString,
  })
  .openapi('ApiToken');
export const NewApiToken = ApiToken.extend({ token: z.string().openapi({ description: 'Shown once; only its hash is kept.' }) }).openapi('NewApiToken');

export const Person = z.object({ id: z.number().int(), displayName: nullableString, identities: z.array(z.string()), createdAt: z.string() }).openapi('Person');

export const Grant = z
  .object({ id: z.number().int(), principal: z.string(), projectKey: z.string(), role: z.enum(['admin', 'maintainer', 'developer', 'viewer']), createdBy: z.string(), createdAt: z.string() })
  .openapi('Grant');

export const Me = z
  .object({
    id: z.string().openapi({ description: 'The handle you are signed in as (web:admin, sso:…) or the token owner.' }),
    via: z.enum(['session', 'token']),
    person: nullableString,
    identities: z.array(z.string()),
    admin: z.boolean(),
    roles: z.record(z.string(), z.enum(['viewer', 'developer', 'maintainer'])),
    groups: z.array(z.string()),
    scopes: z.array(Scope).nullable().openapi({ description: "A token's scopes; null for a console session (everything the person may do)." }),
  })
  .openapi('Me');

export const Reason = z.object({ reason: z.string().max(500).optional() }).openapi('Reason');

/** Standard error responses, for routes to spread into `responses`. */
export const errors = (...statuses: Array<400 | 401 | 403 | 404 | 409 | 422 | 429 | 503>) =>
  Object.fromEntries(statuses.map((s) => [s, { description: ERROR_TEXT[s], content: { 'application/json': { schema: ErrorBody } } }]));

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad input: what is wrong, in words',
  401: 'No valid session or API token',
  403: 'Not allowed: what is missing and who can grant it',
  404: 'No such thing',
  409: 'The state does not allow it now',
  422: 'Idempotency-Key reused for another request',
  429: 'Too many requests: see Retry-After',
  503: 'A dependency is down; nothing was changed',
};

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
export const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });
