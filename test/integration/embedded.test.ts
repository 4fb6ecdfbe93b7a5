import { describe, expect, it } from 'vitest';
import { startTestApp, waitFor } from '../helpers/app.js';

describe('embedded database (no DATABASE_URL)', () => {
  it('starts on PGlite under DATA_DIR and runs a story from the console', async () => {
    const t = await startTestApp({ DATABASE_URL: '' });
    try {
      expect(t.app.db.kind).toBe('embedded');
      const cookie = await t.signIn();
      const res = await fetch(`${t.url}/api/v1/commands`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'story As a shopper I want to save my cart so that I can buy later' }),
      });
      expect(res.status).toBe(202);
      const { run } = (await res.json()) as { run: { ref: string } };
      const detail = await waitFor(async () => {
        const body = (await (await fetch(`${t.url}/api/v1/runs/${run.ref}`, { headers: { cookie } })).json()) as {
          run: { status: string };
          story: { gherkin: string; provider: string } | null;
        };
        return body.run.status === 'succeeded' && body;
      }, 20_000, 'story on the embedded database');
      expect(detail.story!.provider).toBe('offline');
      expect(detail.story!.gherkin).toMatch(/^Feature: /);
    } finally {
      await t.stop();
    }
  }, 60_000);
});
