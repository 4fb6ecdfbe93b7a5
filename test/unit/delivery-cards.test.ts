import { describe, expect, it } from 'vitest';
import * as slack from '../../src/bots/slack/cards.js';
import * as discord from '../../src/bots/discord/cards.js';
import * as teams from '../../src/bots/teams/cards.js';
import { outcomeActions, storyExportView } from '../../src/core/chat/presentation.js';
import { changeFacts } from '../../src/core/deploys/changes.js';
import type { ApprovalState, DeployRun } from '../../src/core/runs/model.js';
import type { StoryRecord } from '../../src/core/stories/service.js';

/** The change summary and the follow-up buttons, as each platform draws them from the one presentation. */

const changes = {
  ...changeFacts({
    base: '1'.repeat(40), head: '2'.repeat(40), direction: 'forward',
    compare: {
      commits: [{ sha: 'a'.repeat(40), message: 'Add <b>invoice</b> totals', author: 'Ann' }, { sha: 'b'.repeat(40), message: 'Bump pg', author: 'Bob' }],
      files: [{ filename: 'src/api/x.ts', status: 'modified' }, { filename: 'migrations/7.sql', status: 'added' }, { filename: 'package.json', status: 'modified' }],
      totalCommits: 2, url: 'https://github.com/acme/web/compare/1...2',
    },
  }),
  summary: 'Adds invoice totals and upgrades pg.',
};
const approvals: ApprovalState = { required: 1, approvers: ['slack:U0LEAD'], preventSelfApproval: true, decisions: [], pending: ['slack:U0LEAD'], expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
const run = (over: Partial<DeployRun> = {}): DeployRun =>
  ({
    id: 5, ref: 'R-5', number: 5, kind: 'deploy', status: 'waiting_approval', stage: 'approval', progress: 50, projectKey: 'web', requestedBy: 'slack:U0DEV', sourcePlatform: 'slack',
    channel: 'slack:C1', threadRef: null, error: null, lastSeq: 5, chatSeq: 0, createdAt: '', updatedAt: '', finishedAt: null, links: {},
    input: { description: 'Promote', repo: 'acme/web', environment: 'production', sha: '2'.repeat(40), trigger: 'promote', promotedFrom: 'R-4' },
    result: { sha: '2'.repeat(40), ref: 'v2', changes, approvals },
    ...over,
  }) as DeployRun;

describe('the change summary on every approval card', () => {
  it('Slack: headline with the compare link, prose, commits escaped, areas, risk notes, who summarised', () => {
    const text = JSON.stringify(slack.approvalMessage(run(), approvals, 'http://x/runs/R-5').blocks);
    expect(text).toContain('*What changes:* <https://github.com/acme/web/compare/1...2|Brings 2 commits (1111111…2222222) by Ann, Bob · 3 files>');
    expect(text).toContain('Adds invoice totals and upgrades pg.');
    expect(text).toContain('• aaaaaaa Add &lt;b&gt;invoice&lt;/b&gt; totals (Ann)');
    expect(text).toContain('Files by area: dependencies 1, migrations 1, src/api 1');
    expect(text).toContain(':warning: Database migrations');
    expect(text).toContain('Summary by the offline summariser');
    expect(text).toContain("_Promotion of R-4's commit_");
  });

  it('Discord: fields for what changes, commits, files and risks', () => {
    const embed = discord.approvalMessage(run(), approvals, 'http://x/runs/R-5').embeds[0]!;
    const fields = Object.fromEntries(embed.fields.map((f) => [f.name, f.value]));
    expect(fields['What changes']).toBe('[Brings 2 commits (1111111…2222222) by Ann, Bob · 3 files](https://github.com/acme/web/compare/1...2)\nAdds invoice totals and upgrades pg.');
    expect(fields.Commits).toContain('• aaaaaaa Add <b>invoice</b> totals (Ann)');
    expect(fields['Risk notes']).toContain('⚠️ Dependency manifests');
    expect(embed.footer).toEqual({ text: 'Summary by the offline summariser' });
  });

  it('Teams: text blocks for the same, risks in the warning colour', () => {
    const body = JSON.stringify(teams.approvalCard(run(), approvals, 'http://x/runs/R-5').content.body);
    expect(body).toContain('What changes: Brings 2 commits (1111111…2222222) by Ann, Bob · 3 files');
    expect(body).toContain('• aaaaaaa Add <b>invoice</b> totals (Ann)');
    expect(body).toMatch(/"text":"⚠️ Database migrations[^"]*","wrap":true,"color":"Warning"/);
  });
});

describe('follow-up buttons', () => {
  it('offers Promote on a succeeded deploy with a next environment, Roll back on a failed deployment, nothing once a rollback runs', () => {
    expect(outcomeActions(run({ status: 'succeeded', input: { description: 'x', repo: 'acme/web', environment: 'staging' } }), 'production')).toEqual([{ action: 'deploy_promote', label: 'Promote to production', value: 'R-5', style: 'primary' }]);
    expect(outcomeActions(run({ status: 'succeeded' }), undefined)).toEqual([]);
    const failed = run({ status: 'failed', result: { sha: '2'.repeat(40), deploymentId: 9 } });
    expect(outcomeActions(failed, undefined)).toEqual([{ action: 'deploy_rollback', label: 'Roll back production', value: 'R-5', style: 'danger' }]);
    expect(outcomeActions(run({ status: 'failed', result: { sha: 'x', deploymentId: 9, rolledBackBy: 'R-6' } }), undefined)).toEqual([]);
    expect(outcomeActions(run({ status: 'failed', result: {} }), undefined)).toEqual([]);
    // Each platform turns them into its buttons.
    expect(JSON.stringify(slack.outcomeMessage(failed, 'u', outcomeActions(failed, undefined)).blocks)).toContain('"action_id":"deploy_rollback","text":{"type":"plain_text","text":"Roll back production"},"value":"R-5","style":"danger"');
    expect(discord.outcomeMessage(failed, 'u', outcomeActions(failed, undefined)).components).toEqual([{ type: 1, components: [{ type: 2, style: 4, label: 'Roll back production', custom_id: 'deploy_rollback:R-5' }] }]);
    expect(JSON.stringify(teams.outcomeCard(failed, 'u', outcomeActions(failed, undefined)).content.actions)).toContain('"verb":"deploy_rollback","data":{"run":"R-5"},"style":"destructive"');
  });

  it('offers Create issue and Open PR until each exists, then links them', () => {
    const story = { id: 3, status: 'accepted' } as StoryRecord;
    const none = storyExportView(story, { issue: 'jira', pullRequest: true }, []);
    expect(none.actions.map((a) => a.action)).toEqual(['story_issue', 'story_pr']);
    const done = storyExportView(story, { issue: 'jira', pullRequest: true }, [
      { id: 1, storyId: 3, kind: 'issue', target: 'jira', state: 'done', externalId: 'WEB-7', url: 'https://acme.atlassian.net/browse/WEB-7', error: null, requestedBy: 'x', claimedAt: '' },
      { id: 2, storyId: 3, kind: 'pull_request', target: 'github', state: 'pending', externalId: null, url: null, error: null, requestedBy: 'x', claimedAt: '' },
    ]);
    expect(done.links).toEqual([{ label: 'Issue WEB-7 (jira)', url: 'https://acme.atlassian.net/browse/WEB-7' }]);
    expect(done.actions.map((a) => a.action)).toEqual(['story_pr']);
    expect(storyExportView({ id: 3, status: 'superseded' } as StoryRecord, { issue: 'jira', pullRequest: true }, []).actions).toEqual([]);
    expect(storyExportView(story, { issue: null, pullRequest: false }, []).actions).toEqual([]);
  });
});
