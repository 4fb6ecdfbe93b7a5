import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { createApi, type Api, type ApiDeps } from './app.js';
import { registerRuns } from './runs.js';
import { registerCommands } from './commands.js';
import { registerProjects } from './projects.js';
import { registerEnvironments } from './environments.js';
import { registerStories } from './stories.js';
import { registerTokens } from './tokens.js';
import { registerPeople } from './people.js';
import { registerRoles } from './roles.js';
import { registerAudit } from './audit.js';
import { registerDeliveries } from './deliveries.js';

/**
 * /api/v1: every route, and the OpenAPI 3.1 document generated from them at /api/v1/openapi.json.
 * A new group of routes is a file beside these exporting `register…(api)`, added to the list
 * below (see docs/DESIGN.md, "REST API").
 */
export function createApiRoutes(deps: ApiDeps & { apiWindowMs: number }): Api {
  const api = createApi(deps);
  registerCommands(api);
  registerRuns(api);
  registerProjects(api);
  registerEnvironments(api);
  registerStories(api);
  registerTokens(api, deps);
  registerPeople(api, deps);
  registerRoles(api);
  registerAudit(api);
  registerDeliveries(api);

  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A personal API token (adh_…), made in the console or with POST /api/v1/tokens.',
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'adh_session',
    description: 'The console session. State-changing requests must come from the console’s own origin.',
  });
  api.doc31('/api/v1/openapi.json', (c) => ({
    openapi: '3.1.0',
    info: {
      title: 'AutoDevHub API',
      version: '1.0.0',
      description:
        'Runs, commands, approvals, stories, projects, tokens, people and roles. Errors share one shape: `{ error, message, requestId }`. ' +
        'Every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset; a 429 carries Retry-After.',
    },
    servers: [{ url: new URL(c.req.url).origin }],
    security: [{ bearer: [] as string[] }, { session: [] as string[] }] as Array<Record<string, string[]>>,
  }));
  return api;
}

/** The reference UI at /api/docs: Swagger UI served from node_modules (works offline, no CDN). */
export function mountApiDocs(app: Hono): void {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('swagger-ui-dist/package.json'));
  const files: Record<string, [string, string]> = {
    'swagger-ui.css': [readFileSync(join(dist, 'swagger-ui.css'), 'utf8'), 'text/css'],
    'swagger-ui-bundle.js': [readFileSync(join(dist, 'swagger-ui-bundle.js'), 'utf8'), 'text/javascript'],
    'init.js': [
      "window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#api', deepLinking: true, withCredentials: true });",
      'text/javascript',
    ],
  };
  const page =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>AutoDevHub API</title><link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>' +
    '<body><div id="api"></div><script src="/api/docs/assets/swagger-ui-bundle.js"></script><script src="/api/docs/assets/init.js"></script></body></html>';
  // Swagger UI sets style attributes and shows data: images; nothing else is loosened.
  app.use(
    '/api/docs',
    secureHeaders({
      contentSecurityPolicy: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], connectSrc: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], objectSrc: ["'none'"] },
      xFrameOptions: 'DENY',
    }),
  );
  app.get('/api/docs', (c) => c.html(page));
  app.get('/api/docs/assets/:file', (c) => {
    const file = files[c.req.param('file')];
    if (!file) return c.json({ error: 'not_found', message: 'No such asset' }, 404);
    c.header('content-type', `${file[1]}; charset=utf-8`);
    c.header('cache-control', 'public, max-age=3600');
    return c.body(file[0]);
  });
}
