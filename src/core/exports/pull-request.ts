import type { ProjectConfig } from '../config.js';
import type { GitHubGateway } from '../github/client.js';
import type { StoryRecord } from '../stories/store.js';
import { storyTitle } from '../chat/presentation.js';
import { featurePaths, featureSlug, stepDefinitions } from './features.js';

export const STORY_TRAILER = 'AutoDevHub-Story';

/**
 * Commits a story version as `<features.path><slug>.feature` with its cucumber-js step skeletons
 * on a branch of its own (`autodevhub/story-<id>-<slug>`), and opens the pull request (or finds
 * the open one). Every step is idempotent: the branch is reset to the default branch's head, the
 * files are written over whatever is there, the pull request is looked up by its branch.
 */
export async function openStoryPullRequest(
  github: GitHubGateway,
  input: { project: ProjectConfig & { repo: string }; story: StoryRecord; runRef: string; runUrl: string },
): Promise<{ id: string; url: string }> {
  const { project, story } = input;
  const repo = project.repo;
  const title = storyTitle(story, `Story ${story.id}`);
  const slug = featureSlug(String(story.metadata.featureName ?? title), `story-${story.id}`);
  const paths = featurePaths(project, slug);
  const branch = `autodevhub/story-${story.id}-${slug}`.slice(0, 120);
  const base = await github.defaultBranch(repo);
  const head = await github.resolveRef(repo, base);
  await github.ensureBranch(repo, branch, head.sha);
  const trailer = `${STORY_TRAILER}: ${story.id} (${input.runRef}, version ${story.version})`;
  const files = [
    { path: paths.feature, content: story.gherkin.endsWith('\n') ? story.gherkin : `${story.gherkin}\n`, message: `Add feature: ${title}` },
    { path: paths.steps, content: stepDefinitions(story.gherkin, { featurePath: paths.feature, story: `story ${story.id}, version ${story.version}` }), message: `Add step definition skeletons: ${title}` },
  ];
  for (const f of files) {
    const existing = await github.readFile(repo, f.path, branch);
    await github.writeFile(repo, { path: f.path, branch, content: f.content, message: `${f.message}\n\n${trailer}`, ...(existing && { sha: existing.sha }) });
  }
  const body = [
    `The user story **${title}** (version ${story.version}) as a feature file, with step definition skeletons for cucumber-js.`,
    '',
    `- \`${paths.feature}\``,
    `- \`${paths.steps}\` (every step is pending until implemented)`,
    ...(story.openQuestions.length ? ['', '**Open questions**', ...story.openQuestions.map((q) => `- ${q}`)] : []),
    '',
    `From AutoDevHub ${input.runRef}: ${input.runUrl}`,
    '',
    trailer,
  ].join('\n');
  const pr = await github.upsertPullRequest(repo, { branch, base, title: `Story: ${title} (v${story.version})`.slice(0, 200), body });
  return { id: `#${pr.number}`, url: pr.url };
}
