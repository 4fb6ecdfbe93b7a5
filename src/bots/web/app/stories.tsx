import { readableStories, type ListedStory } from '../../../core/access/reads.js';
import { readStory, type StoryRecord } from '../../../core/stories/service.js';
import { findRunById } from '../../../core/runs/queries.js';
import { storyTitle } from '../../../core/chat/presentation.js';
import { Empty, Layout, NoProjects, Status, When } from './layout.js';
import type { PageCall } from './page.js';

/** The story library: search and filters, one story with its previous version side by side. */

const STATUSES = ['draft', 'accepted', 'superseded'] as const;

export async function storiesPage({ ctx, actor, viewer, query }: PageCall) {
  const text = query.q?.trim().slice(0, 200) || undefined;
  const project = ctx.config.projects.find((p) => p.key === query.project)?.key;
  const status = STATUSES.find((s) => s === query.status);
  const minScore = query.score && /^0?\.\d+$|^1(\.0+)?$/.test(query.score) ? Number(query.score) : undefined;
  const stories = await readableStories(ctx, actor, { text, project, status, minScore, limit: 100 });
  const filtered = Boolean(text || project || status || minScore !== undefined);
  return (
    <Layout title="Stories" viewer={viewer} active="/stories">
      <form class="filters" method="get" action="/stories" role="search" aria-label="Search stories">
        <label>Search <input type="search" name="q" value={text ?? ''} placeholder="cart, checkout…" /></label>
        <label>Project <select name="project"><option value="">all</option>{ctx.config.projects.map((p) => <option selected={p.key === project}>{p.key}</option>)}</select></label>
        <label>Status <select name="status"><option value="">all</option>{STATUSES.map((s) => <option selected={s === status}>{s}</option>)}</select></label>
        <label>Score at least <select name="score"><option value="">any</option>{['0.5', '0.7', '0.9'].map((s) => <option selected={Number(s) === minScore}>{s}</option>)}</select></label>
        <button type="submit">Search</button>
        {filtered && <a href="/stories">Clear</a>}
      </form>
      {stories.length === 0 ? (
        ctx.config.projects.length === 0 && !filtered ? <NoProjects /> : (
          <Empty>
            {filtered ? <p>No story matches. Try other words, or <a href="/stories">clear the filters</a>.</p> : <p>No stories yet. Write one from <a href="/">New command</a>: <code>story As a shopper I want to save my cart so that I can buy later</code>.</p>}
          </Empty>
        )
      ) : (
        <ul class="cards">{stories.map((s) => <StoryCard story={s} />)}</ul>
      )}
    </Layout>
  );
}

function StoryCard({ story }: { story: ListedStory }) {
  return (
    <li class="card" data-story={story.id}>
      <h2><a href={`/stories/${story.id}`}>{storyTitle(story)}</a></h2>
      <p class="muted">
        <Status status={story.status} /> score {story.confidenceScore.toFixed(2)} · version {story.version} · {story.projectKey ?? 'no project'} · <a href={`/runs/${story.runRef}`}>{story.runRef}</a> · <When at={story.createdAt} />
      </p>
      <p>{story.featureDescription}</p>
    </li>
  );
}

export async function storyPage({ ctx, actor, viewer, param }: PageCall) {
  const story = await readStory({ ctx, actor }, Number(param.id));
  const [run, previous] = await Promise.all([findRunById(ctx.em, story.runId), story.parentId ? readStory({ ctx, actor }, story.parentId).catch(() => undefined) : undefined]);
  return (
    <Layout title={storyTitle(story)} viewer={viewer} active="/stories">
      <p class="summary">
        <Status status={story.status} /> score {story.confidenceScore.toFixed(2)} · version {story.version} · {run?.projectKey ?? 'no project'} · run <a href={`/runs/${run?.ref}`}>{run?.ref}</a>
        {story.acceptedBy && <> · accepted by {story.acceptedBy} <When at={story.acceptedAt} /></>}
      </p>
      <p>{story.featureDescription}</p>
      <div class="actions">
        {story.status === 'draft' && <button type="button" data-post={`/api/v1/stories/${story.id}/accept`} data-done="Accepted." data-refresh>Accept</button>}
        {story.status !== 'accepted' && <button type="button" class="secondary" data-post={`/api/v1/stories/${story.id}/regenerate`} data-done="A new version is being written: see Runs.">Regenerate</button>}
        <a class="button secondary" href={`/stories/${story.id}/feature`} download={`story-${story.id}.feature`}>Download .feature</a>
        <button type="button" class="secondary" data-copy="gherkin-current">Copy</button>
        <span class="action-result" role="status" aria-live="polite"></span>
      </div>
      {previous ? (
        <div class="side-by-side">
          <Gherkin id="gherkin-previous" label={`Version ${previous.version} (previous)`} story={previous} />
          <Gherkin id="gherkin-current" label={`Version ${story.version} (this one)`} story={story} />
        </div>
      ) : (
        <Gherkin id="gherkin-current" label={`Version ${story.version}`} story={story} />
      )}
      {story.openQuestions.length > 0 && (
        <section aria-labelledby="questions"><h2 id="questions">Open questions</h2><ul>{story.openQuestions.map((q) => <li>{q}</li>)}</ul></section>
      )}
    </Layout>
  );
}

/** Wide Gherkin scrolls sideways; a visible cue says so when it does. */
function Gherkin({ id, label, story }: { id: string; label: string; story: StoryRecord }) {
  return (
    <figure class="gherkin-box">
      <figcaption>{label}</figcaption>
      <div class="scroll-x gherkin" tabindex={0} role="region" aria-label={`${label}: Gherkin`}>
        <pre id={id}>{story.gherkin}</pre>
      </div>
      <p class="scroll-cue" hidden>Scroll sideways to read the long lines →</p>
    </figure>
  );
}

/** GET /stories/:id/feature: the Gherkin as a file. */
export async function featureFile({ ctx, actor, param }: PageCall): Promise<{ name: string; body: string }> {
  const story = await readStory({ ctx, actor }, Number(param.id));
  return { name: `story-${story.id}.feature`, body: story.gherkin.endsWith('\n') ? story.gherkin : `${story.gherkin}\n` };
}
