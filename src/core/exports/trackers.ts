import type { IssueTrackerConfig } from '../config.js';
import type { GitHubGateway } from '../github/client.js';
import { NotConfiguredError } from '../errors.js';
import { issueKey, markdownBody, storyLabel, type IssueInput } from './issue-body.js';

/** An issue tracker as exports need it: create an issue, or find the one an earlier attempt made. */
export interface IssueTracker {
  readonly name: 'github' | 'jira' | 'linear';
  create(input: IssueInput): Promise<{ id: string; url: string }>;
  find(input: IssueInput): Promise<{ id: string; url: string } | undefined>;
}

export interface JiraApi {
  create(project: string, issueType: string, input: IssueInput, labels: string[]): Promise<{ id: string; url: string }>;
  findByLabel(project: string, label: string): Promise<{ id: string; url: string } | undefined>;
}

export interface LinearApi {
  /** `key`: the issue's own id, chosen by us at creation (Linear accepts a client-made UUID). */
  create(teamId: string, input: IssueInput, labelIds: string[], key: string): Promise<{ id: string; url: string }>;
  findByKey(teamId: string, key: string): Promise<{ id: string; url: string } | undefined>;
}

/** The trackers this installation can reach; which one a project uses comes from its `issues:` config. */
export interface IssueTrackers {
  forProject(project: { key: string; repo?: string | undefined; issues?: IssueTrackerConfig | undefined }): IssueTracker;
}

export function createIssueTrackers(deps: { github: GitHubGateway | undefined; jira: JiraApi | undefined; linear: LinearApi | undefined }): IssueTrackers {
  return {
    forProject(project) {
      const cfg = project.issues;
      if (!cfg) throw new NotConfiguredError(`Project ${project.key} has no issue tracker: add "issues: { tracker: github }" (or jira, linear) to it in autodevhub.yaml.`);
      if (cfg.tracker === 'github') {
        const github = deps.github;
        const repo = cfg.repo ?? project.repo;
        if (!github) throw new NotConfiguredError('GitHub Issues need GITHUB_TOKEN.');
        if (!repo) throw new NotConfiguredError(`Project ${project.key} has no repository for its issues.`);
        return {
          name: 'github',
          async create(i) {
            // The story's own label is the key a retry finds the issue by: only people who may
            // triage the repository can set labels, unlike the body, which any reporter writes.
            const made = await github.createIssue(repo, { title: i.title, body: markdownBody(i), labels: ['autodevhub', storyLabel(i.storyId), ...cfg.labels] });
            return { id: `${repo}#${made.number}`, url: made.url };
          },
          async find(i) {
            const found = await github.findIssueByLabel(repo, storyLabel(i.storyId));
            return found && { id: `${repo}#${found.number}`, url: found.url };
          },
        };
      }
      if (cfg.tracker === 'jira') {
        const jira = deps.jira;
        if (!jira) throw new NotConfiguredError('Jira is not configured: set JIRA_BASE_URL, JIRA_EMAIL and JIRA_API_TOKEN.');
        return {
          name: 'jira',
          create: (i) => jira.create(cfg.project, cfg.issue_type, i, ['autodevhub', storyLabel(i.storyId), ...cfg.labels]),
          find: (i) => jira.findByLabel(cfg.project, storyLabel(i.storyId)),
        };
      }
      const linear = deps.linear;
      if (!linear) throw new NotConfiguredError('Linear is not configured: set LINEAR_API_KEY.');
      return {
        name: 'linear',
        create: (i) => linear.create(cfg.team_id, i, cfg.label_ids, issueKey(i)),
        find: (i) => linear.findByKey(cfg.team_id, issueKey(i)),
      };
    },
  };
}
