import type { Actor, CoreContext } from '../context.js';
import type { ProjectConfig } from '../config.js';
import { PermanentFailure, NotConfiguredError } from '../errors.js';
import { selectFiles } from './select.js';
import { audit } from '../audit/store.js';
import { transaction } from '../db/transaction.js';
import { resolveProject } from '../projects/service.js';
import { authorize } from '../access/authorize.js';
import { getRun } from '../runs/store.js';
import { step } from '../runs/advance.js';
import { deliveryOf, type CreatedRun } from '../runs/intake.js';
import { isFinal, type DocsRun, type RunSummary } from '../runs/model.js';
import { lastDocumentedHead, recordDocumentation } from './store.js';

/**
 * The docs workflow: compare base...head → select the changed source files → write the
 * documentation update → commit it on `autodevhub/docs-<short sha>` → open (or update) the pull
 * request → announce it. Each stage records what it did in the run, so a retried job resumes.
 */

export const DOCS_STAGES = ['compare', 'select', 'generate', 'write', 'pull_request'] as const;
/** Commit trailer marking AutoDevHub's own commits; pushes carrying it never trigger a docs run. */
export const DOCS_TRAILER = 'AutoDevHub-Run';
export const DOCS_BRANCH_PREFIX = 'autodevhub/docs-';
const ZERO_SHA = /^0{40}$/;

export function docsBranch(headSha: string): string {
  return `${DOCS_BRANCH_PREFIX}${headSha.slice(0, 7)}`;
}

function changelogPath(project: ProjectConfig): string {
  const dir = (project.docs?.path ?? 'docs/').replace(/^\.?\//, '').replace(/\/?$/, '/');
  return `${dir === '/' ? '' : dir}CHANGELOG.md`;
}

/** The parts of GitHub's push event this workflow reads (the shape GitHub documents). */
export interface PushEvent {
  ref: string;
  before: string;
  after: string;
  deleted?: boolean;
  repository: { full_name: string; default_branch?: string; master_branch?: string };
  pusher?: { name?: string };
  sender?: { login?: string };
  commits?: Array<{ id: string; message: string }>;
  head_commit?: { id: string; message: string } | null;
}

export type PushOutcome = { outcome: 'queued' | 'duplicate'; run: RunSummary } | { outcome: 'ignored'; reason: string };

/** Ingress verb for GitHub's push webhook. Ignored pushes are answered, not failed. */
export async function requestDocsFromPush({ ctx }: { ctx: CoreContext }, input: { push: PushEvent; deliveryId: string; receivedAt: number }): Promise<PushOutcome> {
  const { push } = input;
  const repo = push.repository.full_name;
  const project = ctx.config.projects.find((p) => p.repo === repo);
  if (!project) return { outcome: 'ignored', reason: `${repo} is not a configured project` };
  if (project.docs?.mode === 'off') return { outcome: 'ignored', reason: 'docs are off for this project' };
  const defaultBranch = push.repository.default_branch ?? push.repository.master_branch ?? 'main';
  if (push.ref !== `refs/heads/${defaultBranch}`) return { outcome: 'ignored', reason: `not the default branch (${push.ref})` };
  if (push.deleted || ZERO_SHA.test(push.after)) return { outcome: 'ignored', reason: 'branch deleted' };
  // No loops: AutoDevHub's own commits (trailer) and merges of its branches start nothing.
  const messages = [...(push.commits ?? []).map((c) => c.message), push.head_commit?.message ?? ''];
  if (messages.some((m) => new RegExp(`^${DOCS_TRAILER}:`, 'm').test(m) || m.includes(DOCS_BRANCH_PREFIX))) {
    return { outcome: 'ignored', reason: 'made by AutoDevHub' };
  }
  const created = await ctx.intake.submit({
    kind: 'docs',
    requestedBy: `github:${push.pusher?.name ?? push.sender?.login ?? 'unknown'}`,
    sourcePlatform: 'github',
    channel: null,
    projectKey: project.key,
    input: {
      repo,
      base: ZERO_SHA.test(push.before) ? null : push.before,
      head: push.after,
      trigger: 'push',
      deliveryId: input.deliveryId,
      receivedAt: input.receivedAt,
      description: `Document ${repo} ${push.before.slice(0, 7)}...${push.after.slice(0, 7)}`,
    },
    // Keyed by the head commit: a redelivery and a second push of the same head are one run.
    delivery: { platform: 'github', id: `docs:${repo}@${push.after}` },
    message: `Queued: document ${repo} up to ${push.after.slice(0, 7)}`,
  });
  if (!created.duplicate) await audit(ctx, { actor: created.run.requestedBy, action: 'docs.requested', target: created.run.ref, source: 'github', data: { repo, head: push.after, delivery: input.deliveryId } });
  return { outcome: created.duplicate ? 'duplicate' : 'queued', run: created.run };
}

/** Ingress verb for `/autodevhub docs [owner/repo] [base...head]`. */
export async function requestDocs(
  { ctx, actor }: { ctx: CoreContext; actor: Actor },
  input: { repo?: string; range?: { base: string; head: string }; deliveryId: string; requestHash?: string; receivedAt?: number; chatRefs?: Record<string, string> },
): Promise<CreatedRun> {
  const project = await resolveProject(ctx, actor, input.repo, 'docs acme/web');
  await authorize(ctx, actor, 'docs.create', { project: project.key });
  if (!ctx.github) throw new NotConfiguredError('Docs need GitHub: set GITHUB_TOKEN.');
  const created = await ctx.intake.submit({
    kind: 'docs',
    requestedBy: actor.id,
    sourcePlatform: actor.platform,
    channel: actor.channel ?? null,
    projectKey: project.key,
    input: {
      repo: project.repo,
      base: input.range?.base ?? null,
      head: input.range?.head ?? null,
      trigger: 'command',
      receivedAt: input.receivedAt ?? Date.now(),
      description: `Document ${project.repo}${input.range ? ` ${input.range.base}...${input.range.head}` : ''}`,
    },
    delivery: deliveryOf(actor, input),
    message: `Queued: document ${project.repo}`,
    ...(input.chatRefs && { chatRefs: input.chatRefs }),
  });
  if (!created.duplicate) await audit(ctx, { actor: actor.id, action: 'docs.requested', target: created.run.ref, source: actor.channel ?? actor.platform, data: { repo: project.repo } });
  return created;
}

/** Worker verb: runs the remaining stages of a docs run. */
export async function generateDocs({ ctx, runId }: { ctx: CoreContext; runId: number }): Promise<void> {
  const github = ctx.github;
  if (!github) throw new PermanentFailure('GitHub is not configured on this worker: set GITHUB_TOKEN.');
  const run = (await getRun(ctx.em, runId)) as DocsRun;
  if (isFinal(run.status)) return;
  const project = ctx.config.projects.find((p) => p.key === run.projectKey);
  if (!project?.repo) throw new PermanentFailure(`Project ${run.projectKey} is no longer configured.`);
  const repo = project.repo;

  // compare: always redone on a retry (cheap, and the selection below needs the files).
  const defaultBranch = await github.defaultBranch(repo);
  const head = run.result.headSha ?? (await github.resolveRef(repo, run.input.head ?? defaultBranch)).sha;
  let base = run.input.base ?? undefined;
  if (!base) {
    const last = await lastDocumentedHead(ctx.em, project.key);
    base = last && last !== head ? last : await github.parentOf(repo, head);
  }
  if (!base) throw new PermanentFailure(`${head.slice(0, 7)} has no parent to compare with; give a range, as in "docs ${repo} base...head".`);
  await step(ctx, run.id, { status: 'running', stage: 'compare', progress: 10, message: `Comparing ${base.slice(0, 7)}...${head.slice(0, 7)}`, result: { baseSha: base, headSha: head } });
  const diff = await github.compare(repo, base, head);

  const selection = selectFiles(diff.files, { docsPath: project.docs?.path ?? 'docs/', budgetChars: ctx.config.docsBudgetChars });
  const overBudget = selection.skipped.filter((s) => s.reason === 'budget').length;
  await step(ctx, run.id, {
    stage: 'select',
    progress: 25,
    message: `${selection.files.length} of ${diff.files.length} changed file(s) selected${overBudget ? `; ${overBudget} left out: the diff is larger than the budget` : ''}`,
    data: { selected: selection.files.map((f) => f.filename), skipped: selection.skipped },
  });

  await step(ctx, run.id, { stage: 'generate', progress: 40, message: `Writing the documentation update with the ${ctx.docsWriter.label}` });
  const doc = await ctx.docsWriter.write({ repo, base, head, runRef: run.ref, commits: diff.commits, selection });

  const branch = docsBranch(head);
  const path = changelogPath(project);
  await step(ctx, run.id, { stage: 'write', progress: 65, message: `Committing ${path} on ${branch}` });
  // The branch is (re)set to head first, so a retry never stacks a second copy of the entry.
  await github.ensureBranch(repo, branch, head);
  const existing = await github.readFile(repo, path, branch);
  const content = existing
    ? existing.content.replace(/^(# [^\n]*\n+)?/, (h) => `${h || '# Changelog\n\n'}${doc.entry}\n`)
    : `# Changelog\n\n${doc.entry}\n`;
  const commit = await github.writeFile(repo, {
    path,
    branch,
    content,
    message: `docs: changelog for ${base.slice(0, 7)}...${head.slice(0, 7)}\n\n${DOCS_TRAILER}: ${run.ref}`,
    ...(existing && { sha: existing.sha }),
  });

  await step(ctx, run.id, { stage: 'pull_request', progress: 85, message: 'Opening the pull request', result: { branch, commit } });
  const body = [
    `Documentation update for ${base.slice(0, 7)}...${head.slice(0, 7)}, written by ${doc.generator}.`,
    '',
    doc.entry,
    '',
    `${DOCS_TRAILER}: ${run.ref}`,
  ].join('\n');
  const pr = await github.upsertPullRequest(repo, { branch, base: defaultBranch, title: doc.title, body: body.slice(0, 60_000) });

  await transaction(ctx, async (tx) => {
    await recordDocumentation(tx.em, {
      runId: run.id,
      projectKey: project.key,
      docType: 'changelog',
      title: doc.title,
      content: doc.entry,
      filePath: path,
      versionInfo: { base, head, branch, commit, prUrl: pr.url, prNumber: pr.number, generator: doc.generator },
    });
    await audit(tx, { actor: 'autodevhub', action: pr.created ? 'docs.pr_opened' : 'docs.pr_updated', target: run.ref, data: { prUrl: pr.url, branch, commit } });
    await step(tx, run.id, {
      status: 'succeeded',
      stage: 'done',
      progress: 100,
      message: `${pr.created ? 'Opened' : 'Updated'} ${pr.url}${overBudget ? ` (${overBudget} file(s) left out: over the budget)` : ''}`,
      result: { pullRequestUrl: pr.url, prCreated: pr.created },
      data: { prUrl: pr.url, links: { pullRequest: pr.url } },
    });
  });
}
