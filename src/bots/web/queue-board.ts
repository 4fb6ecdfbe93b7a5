import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Queue } from 'bullmq';
import type { Hono } from 'hono';

export const QUEUE_BOARD_PATH = '/admin/queues';

/** Nothing on the board loads from elsewhere: scripts, styles, fonts and API calls are ours. */
export const QUEUE_BOARD_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'";

/**
 * bull-board (its Hono adapter) over the BullMQ queues: waiting, active, delayed, failed and
 * completed jobs, with retry and clean. Its page is served from bull-board's own package, with
 * one change: the link to Google Fonts is taken out (the board falls back to system fonts), so
 * the page loads nothing from outside. Access is checked by the caller (admins only).
 */
export function createQueueBoard(queues: Queue[]): { app: Hono; close(): void } {
  const adapter = new HonoAdapter(serveStatic);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'AutoDevHub queues' } },
  });
  const ui = dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
  const template = readFileSync(join(ui, 'dist/index.ejs'), 'utf8').replace(/<link[^>]+fonts\.googleapis\.com[^>]*>/g, '');
  const views = mkdtempSync(join(tmpdir(), 'adh-queue-board-'));
  writeFileSync(join(views, 'index.ejs'), template);
  adapter.setBasePath(QUEUE_BOARD_PATH).setViewsPath(views);
  return { app: adapter.registerPlugin(), close: () => rmSync(views, { recursive: true, force: true }) };
}
