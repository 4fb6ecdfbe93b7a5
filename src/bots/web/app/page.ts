import type { Actor, CoreContext } from '../../../core/context.js';
import type { Viewer } from './layout.js';

/** What every page is given: the request's core context, who asks, and the query string. */
export interface PageCall {
  ctx: CoreContext;
  actor: Actor;
  viewer: Viewer;
  query: Record<string, string | undefined>;
  param: Record<string, string>;
}
