import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04Module from 'ajv-draft-04';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { VERBS } from '../../src/core/commands/grammar.js';

/**
 * The Teams app manifest against Microsoft's JSON schema for its manifestVersion, offline: the
 * schema files ship in @microsoft/app-manifest (MIT), one folder per version.
 */
const manifest = JSON.parse(readFileSync(new URL('../../manifests/teams/manifest.json', import.meta.url), 'utf8')) as Record<string, any>;
const require = createRequire(import.meta.url);
// Both are CommonJS with a default export: under NodeNext the class sits on `.default`.
type AjvLike = { compile(schema: unknown): ((data: unknown) => boolean) & { errors?: unknown } };
const Ajv = ((AjvDraft04Module as unknown as { default?: unknown }).default ?? AjvDraft04Module) as new (opts: object) => AjvLike;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: AjvLike) => void;
const schemaPath = require.resolve(`@microsoft/app-manifest/build/json-schemas/teams/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`);

describe('Teams app manifest', () => {
  it('is valid against the schema of its manifestVersion, a current (1.2x) one', () => {
    expect(manifest.manifestVersion).toMatch(/^1\.2\d$/);
    expect(manifest.$schema).toContain(`/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`);
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, 'utf8')));
    // The placeholders stand for a GUID; the schema checks that pattern.
    const filled = JSON.parse(JSON.stringify(manifest).replaceAll('{{MICROSOFT_APP_ID}}', '00000000-0000-4000-8000-000000000000'));
    const ok = validate(filled);
    expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it("lists the bot's commands, each a verb of the grammar", () => {
    const commands = manifest.bots[0].commandLists[0].commands as Array<{ title: string }>;
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) expect(VERBS, c.title).toContain(c.title);
  });
});
