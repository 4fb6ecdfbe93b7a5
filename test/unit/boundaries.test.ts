import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../src/', import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)].map((m) => m[1]!);
}

const PLATFORM_SDKS: Record<string, RegExp> = {
  slack: /^@slack\//,
  discord: /^(discord\.js|@discordjs\/)/,
  teams: /^(botbuilder|botframework-)/,
};

describe('boundaries (AGENTS.md)', () => {
  it('keeps every platform SDK import inside its own src/bots/<platform>/ folder', () => {
    for (const file of files(root)) {
      const rel = relative(root, file);
      for (const [platform, sdk] of Object.entries(PLATFORM_SDKS)) {
        if (imports(file).some((i) => sdk.test(i))) expect(rel.startsWith(`bots/${platform}/`), `${rel} imports the ${platform} SDK`).toBe(true);
      }
    }
  });

  it('keeps core free of bots, jobs, realtime and HTTP frameworks', () => {
    for (const file of files(join(root, 'core'))) {
      for (const i of imports(file)) {
        expect(/\/(bots|jobs|realtime)\//.test(i) || /^(hono|@hono\/|socket\.io|bullmq)/.test(i), `${relative(root, file)} imports ${i}`).toBe(false);
      }
    }
  });
});
