import { describe, expect, it } from 'vitest';
import { consoleRun, startTestApp } from '../helpers/app.js';

describe('embedded database (no DATABASE_URL)', () => {
  it('starts on PGlite under DATA_DIR and runs a story from the console', async () => {
    const t = await startTestApp({ DATABASE_URL: '' });
    try {
      expect(t.app.db.kind).toBe('embedded');
      const detail = await consoleRun(t, await t.signIn(), 'story As a shopper I want to save my cart so that I can buy later');
      expect(detail.run.status).toBe('succeeded');
      expect(detail.story!.provider).toBe('offline');
      expect(detail.story!.gherkin).toMatch(/^Feature: /);
    } finally {
      await t.stop();
    }
  }, 60_000);
});
