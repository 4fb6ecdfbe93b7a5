import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { createAiAdapters } from '../src/integrations/ai.js';
import { checkGherkin } from '../src/core/ai/gherkin.js';
import type { StoryProvider } from '../src/core/ai/provider.js';
import { loadHeldOut, measure, qualityFigures, scoreOf, tuningAsQuality, type Measured, type Produced, type QualityItem } from './story-eval.js';

/**
 * `npm run bench -- stories`: the held-out set (test/fixtures/stories/held-out.json, never tuned
 * on) through whichever provider the configuration selects (src/integrations/ai.ts: AI_PROVIDER,
 * else Claude with ANTHROPIC_API_KEY, an OpenAI-compatible server, else offline), then the tuning set beside it. Prints parse
 * rate, titles, specific error paths, refusals by kind, AUROC of confidence, cost and latency.
 * `STORIES_SET=held-out|tuning|both` picks the sets (default both).
 */

async function produce(provider: StoryProvider, item: QualityItem): Promise<Produced> {
  const started = performance.now();
  let g = await provider.generate(item.text);
  let cost = g.costUsd ?? null;
  let repaired = false;
  if (!g.refusal) {
    const check = checkGherkin(g.gherkin);
    if (!check.ok) {
      const fixed = await provider.repair(item.text, g.gherkin, check.error);
      cost = cost == null && fixed.costUsd == null ? null : (cost ?? 0) + (fixed.costUsd ?? 0);
      g = { ...fixed, refusal: undefined } as typeof g;
      repaired = true;
    }
  }
  const refusal = g.refusal ? { reason: g.refusal.reason, missing: g.refusal.missing, example: g.refusal.example } : null;
  return { gherkin: g.gherkin, refusal, score: scoreOf(item.text, g.gherkin, refusal, provider.name, repaired), latencyMs: performance.now() - started, costUsd: cost };
}

function report(set: string, ms: Measured[]) {
  const f = qualityFigures(ms);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const [cr, ct] = f.refusedByKind.concrete;
  console.log(`\n== ${set}: ${f.items} descriptions, ${f.stories} stories`);
  console.log(`  refusals by kind     ${Object.entries(f.refusedByKind).filter(([, [, t]]) => t).map(([k, [r, t]]) => `${k} ${r}/${t}`).join('  ')}`);
  console.log(`  concrete refused     ${cr}/${ct} (bar: at most 1 in 20)`);
  console.log(`  vague caught         ${f.vagueCaught}/${f.vague} refused or scored below every concrete story (bar: 9 in 10)`);
  console.log(`  refused w/ guidance  ${f.refusedWithGuidance}/${f.nonDescriptions} gibberish and non-requests`);
  console.log(`  titles mid-phrase    ${f.titlesCut.length}${f.titlesCut.length ? `: ${f.titlesCut.map((t) => `"${t}"`).join(', ')}` : ''}`);
  console.log(`  title words held     ${f.titleWordsHeld}/${f.concreteWithTitleWords} concrete stories`);
  console.log(`  parse rate           ${pct(f.parseRate)};  stories with >= 3 scenarios ${pct(f.threeScenarios)};  specific error paths ${pct(f.specificErrors)}`);
  console.log(`  AUROC (concrete vs rest) ${f.auroc.toFixed(3)};  lowest concrete story ${f.lowestConcrete.toFixed(2)};  highest vague story ${f.highestVagueStory.toFixed(2)}`);
  console.log(`  latency per description ${f.meanLatencyMs.toFixed(1)} ms;  cost per story ${f.costPerStoryUsd == null ? 'n/a (no price known)' : `$${f.costPerStoryUsd.toFixed(5)}`}`);
  for (const m of ms) {
    const bad = (m.item.kind === 'concrete' && m.produced.refusal) || (m.item.kind !== 'concrete' && m.item.kind !== 'other' && !m.produced.refusal) || m.cut || (!m.produced.refusal && (!m.parsed || m.scenarios < 3));
    if (bad) console.log(`  ! ${m.item.id} (${m.item.kind}, ${m.produced.score.toFixed(2)}): ${m.produced.refusal ? `refused (${m.produced.refusal.reason})` : `"${m.title}"`} <- ${m.item.text}`);
  }
}

export async function runStoriesBench(): Promise<void> {
  const config = loadConfig(process.env);
  const provider = createAiAdapters(config, createLogger('warn')).provider;
  console.log(`provider: ${provider.label} (${provider.name}, ${provider.model})`);
  const which = process.env.STORIES_SET ?? 'both';
  const sets: Array<[string, QualityItem[]]> = [];
  if (which !== 'tuning') sets.push(['held-out set (measured only, never tuned on)', loadHeldOut()]);
  if (which !== 'held-out') sets.push(['tuning set', tuningAsQuality()]);
  for (const [name, items] of sets) {
    const ms: Measured[] = [];
    for (const item of items) ms.push(measure(item, await produce(provider, item)));
    report(name, ms);
  }
}
