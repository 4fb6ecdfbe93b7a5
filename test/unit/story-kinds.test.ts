import { describe, expect, it } from 'vitest';
import { writeOfflineStory } from '../../src/core/ai/offline.js';

/** The kinds of issue #28, on tuning text (never the held-out set's). */
const story = (text: string) => {
  const r = writeOfflineStory(text);
  if (r.kind !== 'story') throw new Error(`refused: ${r.refusal.missing}`);
  return r.gherkin;
};
const refusal = (text: string) => {
  const r = writeOfflineStory(text);
  return r.kind === 'refusal' ? r.refusal : null;
};
const title = (g: string) => /^Feature: (.+)$/m.exec(g)![1]!;
const rows = (g: string) => [...g.matchAll(/^\s*\|(.+)\|\s*$/gm)].map((m) => m[1]!.split('|').map((c) => c.trim())).slice(1);

describe('part of speech from the whole sentence', () => {
  it('reads a verb that is also a noun in imperative position', () => {
    expect(title(story('Bill clients quarterly for hosting'))).toBe('Bill clients quarterly for hosting');
    expect(title(story('Stamp approved invoices with the approver name'))).toMatch(/^Stamp approved invoices/);
  });

  it('turns "I want <object> <participle> …" round, keeping what follows', () => {
    expect(title(story('I want expired coupons removed every night'))).toBe('Remove expired coupons every night');
    expect(title(story('I want unpaid invoices highlighted in red'))).toBe('Highlight unpaid invoices in red');
  });

  it('reads a thing wished for in a format or through a channel as its action', () => {
    expect(title(story('As a buyer I want invoices as PDF so that I file them'))).toBe('Download invoices as PDF');
    expect(title(story('I want outage alerts by SMS'))).toBe('Receive outage alerts by SMS');
    expect(refusal('I want dark mode')?.reason).toBe('no_action');
  });

  it('reads "I want <participle> <noun>" as what is done to it', () => {
    expect(title(story('As a user I want saved searches so that I rerun them'))).toBe('Save searches');
  });

  it('reads "show up to 8 …" as a bound on the object, not the phrasal "show up"', () => {
    expect(title(story('Show up to 8 recent orders on the account page'))).toBe('Show up to 8 recent orders');
  });
});

describe('vagueness judged by what could be checked', () => {
  it.each(['Make the search smarter', 'Customers should like the mobile app more', 'Revamp the settings page', 'Use machine learning to improve retention', 'Improve things for support agents'])('refuses "%s" as vague, with guidance', (text) => {
    const r = refusal(text);
    expect(r?.reason).toBe('vague');
    expect(r?.missing).toMatch(/could be checked/);
    expect(r?.example).toMatch(/For example/);
  });

  it('keeps a quality verb with a measurable target, and a state that is not a judgement', () => {
    expect(refusal('Reduce the upload limit to 5 MB')).toBeNull();
    expect(refusal('Make the invoice list sortable by date')).toBeNull();
  });

  it('refuses chat messages and questions that ask for nothing', () => {
    expect(refusal('Thanks a lot, great work')?.reason).toBe('no_action');
    expect(refusal('Is the release still on for Friday?')?.reason).toBe('no_action');
  });
});

describe('titles end on a whole phrase', () => {
  it('drops a trailing unit that ends on a word needing another', () => {
    expect(title(story('Let tenants pay rent by card from their phone even when offline'))).not.toMatch(/\b(even|from)$/);
    expect(title(story('Submit my assignment as a PDF up to 20 MB'))).not.toMatch(/\bup$/);
  });
});

describe('outline values test what the sentence makes them mean', () => {
  it('a period a state lasts: still muted just before it ends, no longer just after', () => {
    const g = story('Mute a noisy channel for 2 hours');
    expect(rows(g)).toEqual([['119 minutes', 'still muted'], ['121 minutes', 'no longer muted']]);
    expect(g).not.toMatch(/\b(old|deleted|kept)\b/);
  });

  it('an amount a rule applies beyond: below, at, above', () => {
    expect(rows(story('Apply a 10% discount to orders above 100 dollars'))).toEqual([['90 dollars', 'does not apply'], ['100 dollars', 'does not apply'], ['110 dollars', 'applies']]);
  });

  it('a time since an event: the event, not the age of the thing', () => {
    const g = story('Customers can return an item within 30 days of delivery');
    expect(g).toMatch(/the delivery was <elapsed> ago/);
    expect(rows(g)).toEqual([['29 days', 'accepted'], ['30 days', 'accepted'], ['31 days', 'refused']]);
  });

  it('a measured quantity crossing a line: below, at, beyond', () => {
    const g = story('Page the database owner when replication lag passes 30 seconds');
    expect(g).toMatch(/the replication lag is <value>/);
    expect(rows(g)).toEqual([['29 seconds', 'not paged'], ['30 seconds', 'not paged'], ['31 seconds', 'paged']]);
  });

  it('how many are shown: all up to the limit, then the limit', () => {
    expect(rows(story('Show up to 8 recent orders on the account page'))).toEqual([['7', '7'], ['8', '8'], ['9', '8']]);
  });
});

describe('words from the description\'s own domain', () => {
  it('merging records speaks of the records, not of branches', () => {
    const g = story('Merge duplicate contacts in the CRM');
    expect(g).not.toMatch(/branch/);
    expect(g).toMatch(/choose at least two contacts/);
    expect(story('As a team lead I want to merge approved pull requests from the dashboard')).toMatch(/target branch/);
  });

  it('never says "nothing is gotten"', () => {
    expect(story('Get a weekly summary of open incidents')).not.toMatch(/nothing is (gotten|got|had)\b/);
  });
});
