import { loadConfig } from '../src/core/config.js';
import { writeOfflineStory } from '../src/core/ai/offline.js';
import { createClaudeProvider } from '../src/core/ai/claude.js';
import { checkGherkin } from '../src/core/ai/gherkin.js';
import type { StoryProvider } from '../src/core/ai/provider.js';
import { figures, judge, loadLabelled, type Judged, type LabelledItem, type Output } from './story-eval.js';

/**
 * `npm run bench -- stories`: the labelled descriptions through the offline generator, and
 * through Claude when ANTHROPIC_API_KEY is set; prints parse rate, scenario coverage, cut titles
 * and artefacts, refusals of non-descriptions, and how the score ranks the labels.
 */

function print(name: string, judged: Judged[]) {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  for (const [split, js] of [['all', judged], ['calibration', judged.filter((j) => j.item.split === 'calibration')], ['holdout', judged.filter((j) => j.item.split === 'holdout')]] as const) {
    const f = figures(js);
    console.log(
      `${name.padEnd(22)} ${split.padEnd(11)} items ${f.items}  stories ${f.stories}  parse ${pct(f.parseRate)}  coverage ${pct(f.coverage)}  ` +
        `titles cut ${f.titlesCut}  artefacts ${f.artefacts}  non-descriptions refused ${f.refusedNonDescriptions}/${f.nonDescriptions}  ` +
        `false refusals ${f.falseRefusals}  AUROC ${f.auroc.toFixed(3)}  Spearman ${f.spearman.toFixed(3)}  properties held ${pct(f.propertiesHeld)}`,
    );
  }
  for (const j of judged.filter((x) => x.failures.length)) console.log(`  ${j.item.id}: ${j.failures.join('; ')}`);
}

async function viaProvider(provider: StoryProvider, item: LabelledItem): Promise<Output> {
  const g = await provider.generate(item.text);
  if (g.refusal) return { gherkin: '', refused: g.refusal.reason, openQuestions: [] };
  if (checkGherkin(g.gherkin).ok) return { gherkin: g.gherkin, refused: null, openQuestions: g.openQuestions ?? [] };
  const check = checkGherkin(g.gherkin);
  const fixed = await provider.repair(item.text, g.gherkin, check.ok ? '' : check.error);
  return { gherkin: fixed.gherkin, refused: null, openQuestions: fixed.openQuestions ?? [], repaired: true };
}

export async function runStoriesBench(): Promise<void> {
  const items = loadLabelled();
  const started = performance.now();
  const offline = items.map((item) => {
    const r = writeOfflineStory(item.text);
    return judge(item, r.kind === 'story' ? { gherkin: r.gherkin, refused: null, openQuestions: r.story.open_questions } : { gherkin: '', refused: r.refusal.reason, openQuestions: [] }, 'offline');
  });
  console.log(`offline generator: ${items.length} descriptions in ${Math.round(performance.now() - started)} ms`);
  print('offline generator', offline);
  const config = loadConfig(process.env);
  if (!config.anthropic) {
    console.log('Claude: skipped (set ANTHROPIC_API_KEY to include it)');
    return;
  }
  const claude = createClaudeProvider(config.anthropic);
  const judged: Judged[] = [];
  for (const item of items) judged.push(judge(item, await viaProvider(claude, item), 'claude'));
  print(`Claude (${config.anthropic.model})`, judged);
}
