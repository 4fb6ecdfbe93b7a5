import type { CoreContext } from '../context.js';
import type { ChangeSummary, DeployRun } from '../runs/model.js';
import { changeFacts, type CompareResult } from './changes.js';
import { currentDeployment } from './store.js';

/**
 * The change summary of a deploy, before approval: the commit being deployed against the one
 * deployed in the environment now (AutoDevHub's last deployment there). A rollback compares the
 * other way round, so its list is what it takes out. GitHub failing to compare does not hold the
 * approval up: the summary says what could not be read.
 */
export async function summariseChanges(ctx: Pick<CoreContext, 'em' | 'github' | 'changeSummariser' | 'logger'>, run: DeployRun, repo: string): Promise<ChangeSummary> {
  const head = String(run.result.sha);
  const current = await currentDeployment(ctx.em, repo, run.input.environment, run.id);
  const base = current?.sha ?? null;
  const rollback = run.input.trigger === 'rollback' || run.input.trigger === 'auto_rollback';
  const direction: ChangeSummary['direction'] = !base ? 'first' : base === head ? 'same' : rollback ? 'rollback' : 'forward';
  let compare: CompareResult | null = null;
  let problem: string | undefined;
  if (base && base !== head && ctx.github) {
    try {
      compare = rollback ? await ctx.github.compare(repo, head, base) : await ctx.github.compare(repo, base, head);
    } catch (err) {
      problem = `GitHub could not compare ${base.slice(0, 7)} with ${head.slice(0, 7)}: ${(err as Error).message}`;
      ctx.logger.warn({ run: run.ref, err: (err as Error).message }, 'change summary without a comparison');
    }
  }
  const facts = changeFacts({ base, head, direction, compare });
  const summary = await ctx.changeSummariser.summarise(facts);
  return problem ? { ...summary, summary: problem } : summary;
}
