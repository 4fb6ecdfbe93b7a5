import { describe, expect, it } from 'vitest';
import { normaliseRunRef, parseCommand, usageFor, VERBS } from '../../src/core/commands/grammar.js';

describe('command grammar', () => {
  it('parses every verb of DESIGN.md', () => {
    expect(parseCommand('story As a user I want x')).toEqual({ ok: true, command: { verb: 'story', description: 'As a user I want x' } });
    expect(parseCommand('docs acme/web v1...v2')).toEqual({ ok: true, command: { verb: 'docs', repo: 'acme/web', range: { base: 'v1', head: 'v2' } } });
    expect(parseCommand('deploy acme/web production v2.3.1')).toEqual({ ok: true, command: { verb: 'deploy', repo: 'acme/web', environment: 'production', ref: 'v2.3.1' } });
    expect(parseCommand('deploy staging')).toEqual({ ok: true, command: { verb: 'deploy', environment: 'staging' } });
    expect(parseCommand('status r1042')).toEqual({ ok: true, command: { verb: 'status', run: 'R-1042' } });
    expect(parseCommand('reject R-7 too risky today')).toEqual({ ok: true, command: { verb: 'reject', run: 'R-7', reason: 'too risky today' } });
    expect(parseCommand('cancel R-9')).toEqual({ ok: true, command: { verb: 'cancel', run: 'R-9' } });
    expect(parseCommand('link acme/web')).toEqual({ ok: true, command: { verb: 'link', repo: 'acme/web' } });
    expect(parseCommand('HELP Story')).toEqual({ ok: true, command: { verb: 'help', topic: 'story' } });
  });

  it('keeps the description as typed, case and punctuation included', () => {
    const r = parseCommand('story   As a shopper, I want to save my cart — so that I can buy later!');
    expect(r.ok && r.command.verb === 'story' && r.command.description).toBe('As a shopper, I want to save my cart — so that I can buy later!');
  });

  it('answers bad input with an error and the usage of that verb', () => {
    const unknown = parseCommand('frobnicate');
    expect(unknown).toMatchObject({ ok: false, error: 'Unknown command "frobnicate".' });
    expect(!unknown.ok && unknown.usage).toContain('AutoDevHub commands:');
    const empty = parseCommand('story   ');
    expect(!empty.ok && empty.usage).toContain('Usage: /autodevhub story <feature description>');
    const long = parseCommand(`story ${'x'.repeat(4001)}`);
    expect(!long.ok && long.error).toContain('the limit is 4000');
    expect(parseCommand(`story ${'x'.repeat(4000)}`).ok).toBe(true);
    expect(parseCommand('deploy').ok).toBe(false);
    expect(parseCommand('cancel soon').ok).toBe(false);
    expect(parseCommand('link not-a-repo').ok).toBe(false);
    expect(parseCommand('help nothing').ok).toBe(false);
  });

  it('treats an empty command as help, and has usage for every verb', () => {
    expect(parseCommand('')).toEqual({ ok: true, command: { verb: 'help' } });
    for (const v of VERBS) expect(usageFor(v)).toMatch(new RegExp(`^Usage: /autodevhub ${v}`));
    expect(usageFor(undefined, '@AutoDevHub')).toContain('@AutoDevHub story');
  });

  it('normalises run references', () => {
    expect(normaliseRunRef('r-12')).toBe('R-12');
    expect(normaliseRunRef('R12')).toBe('R-12');
    expect(normaliseRunRef('12')).toBeUndefined();
  });
});
