import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config.js';
import { tempDir } from '../helpers/tmp.js';

const base = { DATA_DIR: tempDir('cfg'), AUTODEVHUB_SECRET: 'x'.repeat(32) };

describe('configuration', () => {
  it('starts with nothing set: embedded database, local Redis, Slack off, offline generator', () => {
    const c = loadConfig({ DATA_DIR: base.DATA_DIR });
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', databaseUrl: undefined, redisUrl: undefined, role: 'all', anthropic: undefined, publicUrl: 'http://127.0.0.1:3000' });
    expect(c.slack).toEqual({ disabled: 'Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN' });
    // The generated secret is kept for the next start.
    expect(loadConfig({ DATA_DIR: base.DATA_DIR }).secret).toBe(c.secret);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ DATABASE_URL: 'mysql://x' }, /DATABASE_URL: must be a postgres:\/\/ URL/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ AUTODEVHUB_ROLE: 'boss' }, /AUTODEVHUB_ROLE/],
    [{ AUTODEVHUB_SECRET: 'short' }, /AUTODEVHUB_SECRET: must be at least 32/],
    [{ AUTODEVHUB_ROLE: 'worker' }, /DATABASE_URL: required when AUTODEVHUB_ROLE=worker/],
    [{ AUTODEVHUB_ROLE: 'web', DATABASE_URL: 'postgres://h/db' }, /REDIS_URL: required when AUTODEVHUB_ROLE=web/],
    [{ AUTODEVHUB_CONFIG: '/nonexistent.yaml' }, /AUTODEVHUB_CONFIG: file not found/],
    [{ RATE_LIMIT_COMMANDS: 'lots' }, /RATE_LIMIT_COMMANDS: must be a rate like 30\/1m/],
    [{ OIDC_ISSUER: 'https://login.acme.test' }, /OIDC_CLIENT_ID: single sign-on needs both/],
    [{ BOTFRAMEWORK_OPENID_METADATA_URL: 'https://login.botframework.com/v1/.well-known/openidconfiguration' }, /BOTFRAMEWORK_OPENID_METADATA_URL: no longer used: set BOTFRAMEWORK_LOGIN_URL/],
  ])('names the variable when %o is wrong', (env, message) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(message);
  });

  it('names only the Slack variable that is missing', () => {
    const c = loadConfig({ ...base, SLACK_SIGNING_SECRET: 's' });
    expect(c.slack).toEqual({ disabled: 'Slack is not configured: set SLACK_BOT_TOKEN' });
    const on = loadConfig({ ...base, SLACK_SIGNING_SECRET: 's', SLACK_BOT_TOKEN: 'xoxb', SLACK_API_URL: 'http://127.0.0.1:9/api' });
    expect(on.slack).toEqual({ signingSecret: 's', botToken: 'xoxb', apiUrl: 'http://127.0.0.1:9/api/' });
  });

  it('reads projects from the YAML file and reports its errors by path', () => {
    const dir = tempDir('yaml');
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'admins: ["slack:U0ADMIN"]\nprojects:\n  - key: web\n    repo: acme/web\n    channels: ["slack:C0123"]\n    environments:\n      production: { approvers: ["slack:U0LEAD"], required_approvals: 1 }\n');
    const c = loadConfig({ ...base, AUTODEVHUB_CONFIG: good });
    expect(c.admins).toEqual(['slack:U0ADMIN']);
    expect(c.projects[0]).toMatchObject({ key: 'web', repo: 'acme/web', channels: ['slack:C0123'] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'projects:\n  - key: web\n    repo: not-a-repo\n');
    expect(() => loadConfig({ ...base, AUTODEVHUB_CONFIG: bad })).toThrow(/projects\.0\.repo: repo must be owner\/name/);
  });

  it('reads people, groups and roles, with safe defaults, and refuses names that grant nothing', () => {
    const dir = tempDir('yaml');
    const good = join(dir, 'roles.yaml');
    writeFileSync(good, 'people:\n  ann: { identities: ["slack:U0ANN", "email:ann@acme.test"] }\ngroups:\n  ops: { members: [ann], sso: ["ops-team"] }\nprojects:\n  - key: web\n    roles: { maintainer: [ann], developer: ["group:ops"] }\n');
    const c = loadConfig({ ...base, AUTODEVHUB_CONFIG: good, RATE_LIMIT_COMMANDS: '5/10s' });
    expect(c.access.people.ann!.identities).toEqual(['slack:U0ANN', 'email:ann@acme.test']);
    expect(c.projects[0]).toMatchObject({ channel_role: 'viewer', allow_unlinked_channels: false, roles: { maintainer: ['ann'], developer: ['group:ops'] } });
    expect(c.limits.commands).toEqual({ points: 5, durationMs: 10_000 });
    expect(loadConfig(base).limits).toMatchObject({ commands: { points: 30, durationMs: 60_000 }, api: { points: 300 }, signin: { points: 20 } });
    const typo = join(dir, 'typo.yaml');
    writeFileSync(typo, 'projects:\n  - key: web\n    roles: { developer: [anne, "group:nope"] }\n');
    expect(() => loadConfig({ ...base, AUTODEVHUB_CONFIG: typo })).toThrow(/projects\.0\.roles\.developer\.0: no person "anne".*projects\.0\.roles\.developer\.1: no group "nope"/);
    // Approvers are named the same way, and a name that is nobody is refused at start.
    const approvers = join(dir, 'approvers.yaml');
    writeFileSync(approvers, 'projects:\n  - key: web\n    environments:\n      production: { approvers: [alice, "slack:U0B"], required_approvals: 1, rollback: { approvers: ["group:nope"] } }\n');
    expect(() => loadConfig({ ...base, AUTODEVHUB_CONFIG: approvers })).toThrow(/environments\.production\.approvers\.0: no person "alice".*rollback\.approvers\.0: no group "nope"/s);
  });
});
