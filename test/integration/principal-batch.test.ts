import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { linkHandles, upsertGrant } from '../../src/core/access/store.js';
import { principalOf } from '../../src/core/access/principal.js';

/**
 * Principals asked for at once (many people's commands arriving together) are read with one set
 * of queries for the group; each still gets exactly their own handles and grants.
 */

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.stop();
});

describe('principals resolved together', () => {
  it('gives each of 40 people asking at once their own handles and grants, not a neighbour’s', async () => {
    const ctx = t.app.context();
    for (let i = 0; i < 40; i++) {
      const userId = await linkHandles(ctx.em, [`slack:UP${i}`, `discord:${9000 + i}`]);
      if (i % 2 === 0) await upsertGrant(ctx.em, { principal: `user:${userId}`, projectKey: '*', role: 'admin', createdBy: 'test' });
    }
    const principals = await Promise.all(
      Array.from({ length: 40 }, (_, i) => principalOf(t.app.context(), { id: `slack:UP${i}`, platform: 'slack', channel: `slack:CP${i % 3}` })),
    );
    principals.forEach((p, i) => {
      expect(p.handles.sort(), `person ${i}`).toEqual([`discord:${9000 + i}`, `slack:UP${i}`]);
      expect(p.admin, `person ${i}`).toBe(i % 2 === 0);
    });
    // Someone nobody knows: their own handle only, no grants.
    const stranger = await principalOf(t.app.context(), { id: 'slack:UNOBODY', platform: 'slack', channel: 'slack:CP0' });
    expect(stranger).toMatchObject({ handles: ['slack:UNOBODY'], userId: undefined, admin: false });
  });
});
