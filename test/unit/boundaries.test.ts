import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(p) ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1]!);
}

const rel = (file: string) => relative(root, file);

const PLATFORM_SDKS: Record<string, RegExp> = {
  slack: /^@slack\//,
  discord: /^(discord\.js|@discordjs\/|discord-api-types)/,
  teams: /^(botbuilder|botframework-|@microsoft\/agents-|@azure\/msal-)/,
};

describe('boundaries (AGENTS.md)', () => {
  it('keeps every platform SDK import inside its own src/bots/<platform>/ folder', () => {
    for (const file of files(root)) {
      for (const [platform, sdk] of Object.entries(PLATFORM_SDKS)) {
        if (imports(file).some((i) => sdk.test(i))) expect(rel(file).startsWith(`bots/${platform}/`), `${rel(file)} imports the ${platform} SDK`).toBe(true);
      }
    }
  });

  it('keeps the OpenAI SDK inside src/integrations/openai/ (the core speaks to models through its ports)', () => {
    for (const file of files(root)) {
      if (imports(file).some((i) => /^openai(\/|$)/.test(i))) expect(rel(file).startsWith('integrations/openai/'), `${rel(file)} imports the openai SDK`).toBe(true);
    }
  });

  it('keeps core free of bots, jobs, realtime, HTTP frameworks, queues and platform SDKs', () => {
    for (const file of files(join(root, 'core'))) {
      for (const i of imports(file)) {
        const bad = /\/(bots|jobs|realtime|integrations)\//.test(i) || /^(hono|@hono\/|socket\.io|bullmq|openai)/.test(i) || Object.values(PLATFORM_SDKS).some((sdk) => sdk.test(i));
        expect(bad, `${rel(file)} imports ${i}`).toBe(false);
      }
    }
  });

  it('keeps SQL in store files: no raw statements anywhere else', () => {
    for (const file of files(root)) {
      if (file.endsWith('/store.ts')) continue;
      const src = readFileSync(file, 'utf8');
      expect(/\.execute\(|getConnection\(|getKnex\(|createQueryBuilder\(/.test(src), `${rel(file)} runs SQL outside a store file`).toBe(false);
    }
  });

  it('lets only core reach the stores: bots, jobs, realtime and the HTTP layer call core verbs', () => {
    for (const file of files(root)) {
      if (rel(file).startsWith('core/')) continue;
      for (const i of imports(file)) {
        expect(/\/store\.js$/.test(i), `${rel(file)} imports ${i}`).toBe(false);
      }
    }
  });

  it('keeps webhook verification and parsing free of SDKs (node built-ins, zod and local files only)', () => {
    for (const file of files(join(root, 'bots')).filter((f) => f.includes('/webhook/'))) {
      for (const i of imports(file)) expect(i.startsWith('node:') || i.startsWith('.') || i === 'zod', `${rel(file)} imports ${i}`).toBe(true);
    }
  });

  it('changes runs through the run module only: no other module writes workflow_runs or run_events', () => {
    for (const file of files(root)) {
      if (rel(file).startsWith('core/runs/')) continue;
      const src = readFileSync(file, 'utf8');
      expect(/(insert into|update|delete from)\s+(workflow_runs|run_events)\b/i.test(src), `${rel(file)} writes runs`).toBe(false);
      expect(/\b(WorkflowRun|RunEvent)\b/.test(src) && !rel(file).startsWith('core/db/'), `${rel(file)} uses the run entities`).toBe(false);
    }
  });

  it('decides permissions in one place: nothing outside core/access reads the admins or role lists', () => {
    for (const file of files(root)) {
      const r = rel(file);
      if (r.startsWith('core/access/') || r.startsWith('core/config') || r === 'app.ts') continue;
      const src = readFileSync(file, 'utf8');
      expect(/\.admins\b|\.roles\[|channel_role|allow_unlinked_channels/.test(src), `${r} decides access itself; call authorize() in core/access`).toBe(false);
    }
  });

  it('keeps the CLI client a client: it imports nothing of the server and reads the environment in main.ts only', () => {
    for (const file of files(join(root, 'client'))) {
      for (const i of imports(file)) expect(!i.startsWith('.') || (i.startsWith('./') && !i.includes('/..')), `${rel(file)} imports ${i}`).toBe(true);
      if (rel(file) !== 'client/main.ts') expect(readFileSync(file, 'utf8').includes('process.env'), `${rel(file)} reads process.env`).toBe(false);
    }
  });

  it('keeps each access library in its room: rate limits in jobs, OpenID Connect and OpenAPI in the web surface', () => {
    const rooms: Array<[RegExp, (r: string) => boolean]> = [
      [/^rate-limiter-flexible/, (r) => r === 'jobs/rate-limits.ts'],
      [/^openid-client/, (r) => r === 'bots/web/oidc.ts'],
      [/^@hono\/zod-openapi/, (r) => r.startsWith('bots/web/api/')],
    ];
    for (const file of files(root)) {
      for (const i of imports(file)) {
        for (const [lib, allowed] of rooms) if (lib.test(i)) expect(allowed(rel(file)), `${rel(file)} imports ${i}`).toBe(true);
      }
    }
  });
});
