import { AstBuilder, GherkinClassicTokenMatcher, Parser } from '@cucumber/gherkin';
import { IdGenerator, type GherkinDocument } from '@cucumber/messages';

export interface GherkinSummary {
  featureName: string;
  /** The free text under "Feature:", where the As a / I want / So that narrative lives. */
  description: string;
  scenarios: Array<{ name: string; keywords: string[]; steps: number }>;
}

export type GherkinCheck = { ok: true; document: GherkinDocument; summary: GherkinSummary } | { ok: false; error: string };

/** Removes a Markdown code fence around Gherkin, as models often add one. */
export function stripFences(text: string): string {
  const fenced = /```(?:gherkin|feature|cucumber)?\s*\n([\s\S]*?)```/i.exec(text);
  return (fenced ? fenced[1]! : text).trim() + '\n';
}

/**
 * Validates with Cucumber's official parser. A document counts only when it has a Feature with
 * at least one scenario and every scenario has steps: the parser alone accepts an empty file.
 */
export function checkGherkin(text: string): GherkinCheck {
  let document: GherkinDocument;
  try {
    const parser = new Parser(new AstBuilder(IdGenerator.incrementing()), new GherkinClassicTokenMatcher());
    document = parser.parse(text);
  } catch (err) {
    return { ok: false, error: (err as Error).message.split('\n').slice(0, 5).join('; ') };
  }
  const feature = document.feature;
  if (!feature) return { ok: false, error: 'no "Feature:" found' };
  const scenarios = feature.children.flatMap((c) =>
    c.scenario ? [c.scenario] : (c.rule?.children.flatMap((rc) => (rc.scenario ? [rc.scenario] : [])) ?? []),
  );
  if (scenarios.length === 0) return { ok: false, error: `feature "${feature.name}" has no scenarios` };
  const empty = scenarios.find((s) => s.steps.length === 0);
  if (empty) return { ok: false, error: `scenario "${empty.name}" has no steps` };
  return {
    ok: true,
    document,
    summary: {
      featureName: feature.name,
      description: feature.description,
      scenarios: scenarios.map((s) => ({
        name: s.name,
        keywords: s.steps.map((st) => st.keywordType ?? st.keyword.trim()),
        steps: s.steps.length,
      })),
    },
  };
}
