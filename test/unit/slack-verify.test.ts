import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackSignature } from '../../src/bots/slack/webhook/verify.js';
import { parseSlackBody, slackDeliveryId } from '../../src/bots/slack/webhook/parse.js';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const now = 1_700_000_000;
const body = 'token=xyz&command=%2Fautodevhub&text=help';

describe('Slack signature verification', () => {
  it("matches Slack's documented example signature", () => {
    // From Slack's "Verifying requests from Slack" guide.
    const documentedBody =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    const sig = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
    expect(signSlackRequest(secret, 1531420618, documentedBody)).toBe(sig);
    expect(verifySlackSignature(secret, { signature: sig, timestamp: '1531420618' }, documentedBody, 1531420618 + 10)).toEqual({ ok: true });
  });

  it('accepts a fresh, correct signature', () => {
    expect(verifySlackSignature(secret, { signature: signSlackRequest(secret, now, body), timestamp: String(now) }, body, now)).toEqual({ ok: true });
  });

  it.each([
    ['wrong secret', signSlackRequest('other', now, body), String(now), body],
    ['tampered body', signSlackRequest(secret, now, body), String(now), `${body}x`],
    ['stale by 301 s', signSlackRequest(secret, now - 301, body), String(now - 301), body],
    ['future by 301 s', signSlackRequest(secret, now + 301, body), String(now + 301), body],
    ['missing signature', undefined, String(now), body],
    ['non-numeric timestamp', signSlackRequest(secret, now, body), 'soon', body],
    ['truncated signature', signSlackRequest(secret, now, body).slice(0, 20), String(now), body],
    ['other version', signSlackRequest(secret, now, body).replace('v0=', 'v1='), String(now), body],
  ])('refuses a %s', (_name, signature, timestamp, raw) => {
    expect(verifySlackSignature(secret, { signature, timestamp }, raw, now).ok).toBe(false);
  });

  it('imports no SDK: verification and parsing stay plain', () => {
    for (const f of ['verify.ts', 'parse.ts']) {
      const src = readFileSync(new URL(`../../src/bots/slack/webhook/${f}`, import.meta.url), 'utf8');
      const imports = [...src.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      // A schema library is not a platform SDK: zod checks the payload's shape.
      expect(imports.every((i) => i!.startsWith('node:') || i!.startsWith('.') || i === 'zod')).toBe(true);
    }
  });
});

describe('Slack body parsing', () => {
  it('reads slash commands, interactivity payloads and Events API JSON', () => {
    expect(parseSlackBody('command=%2Fautodevhub&text=help&trigger_id=t1&user_id=U1&channel_id=C1', 'application/x-www-form-urlencoded')).toMatchObject({ command: '/autodevhub', text: 'help' });
    const click = { type: 'block_actions', trigger_id: 't2', user: { id: 'U1' }, actions: [{ action_id: 'story_accept', type: 'button' }] };
    expect(parseSlackBody(`payload=${encodeURIComponent(JSON.stringify(click))}`, 'application/x-www-form-urlencoded; charset=utf-8')).toMatchObject({ type: 'block_actions' });
    expect(parseSlackBody('{"type":"event_callback","event_id":"Ev1","event":{"type":"app_mention"}}', 'application/json')).toMatchObject({ event_id: 'Ev1' });
  });
  it.each([
    ['a payload that is an array', `payload=${encodeURIComponent('[1]')}`, 'application/x-www-form-urlencoded', /payload.*not a JSON object/],
    ['a click without actions', `payload=${encodeURIComponent('{"type":"block_actions","user":{"id":"U1"}}')}`, 'application/x-www-form-urlencoded', /block_actions payload is malformed \(actions/],
    ['a click without a user', `payload=${encodeURIComponent('{"type":"block_actions","actions":[{"action_id":"a","type":"button"}]}')}`, 'application/x-www-form-urlencoded', /malformed \(user/],
    ['a slash command without a user', 'command=%2Fautodevhub&text=help&channel_id=C1', 'application/x-www-form-urlencoded', /slash command is malformed \(user_id/],
    ['an event callback without its event', '{"type":"event_callback","event_id":"Ev1"}', 'application/json', /event callback is malformed \(event/],
    ['a url_verification without a challenge', '{"type":"url_verification"}', 'application/json', /challenge/],
  ])('refuses %s as malformed', (_name, raw, type, message) => {
    expect(() => parseSlackBody(raw, type)).toThrow(message);
  });
  it('rejects what is not Slack', () => {
    expect(() => parseSlackBody('{', 'application/json')).toThrow(/not valid JSON/);
    expect(() => parseSlackBody('[1]', 'application/json')).toThrow(/not a JSON object/);
    expect(() => parseSlackBody('payload=%7Bnope', 'application/x-www-form-urlencoded')).toThrow(/payload/);
    expect(() => parseSlackBody('a=b', 'application/x-www-form-urlencoded')).toThrow(/neither/);
    expect(() => parseSlackBody('x', 'text/plain')).toThrow(/unsupported content type/);
  });
  it('finds the delivery id that de-duplicates retries', () => {
    expect(slackDeliveryId({ event_id: 'Ev1', trigger_id: 'x' })).toBe('event:Ev1');
    expect(slackDeliveryId({ trigger_id: 't1' })).toBe('trigger:t1');
    expect(slackDeliveryId({})).toBeUndefined();
  });
});
