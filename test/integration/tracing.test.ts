import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { trace, ProxyTracerProvider } from '@opentelemetry/api';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { consoleRun, startTestApp, waitFor, type TestApp } from '../helpers/app.js';
import { startFakeOtlp } from '../fakes/otlp.js';
import { startFakeGitHub } from '../fakes/github-api.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Traces: without OTEL_EXPORTER_OTLP_ENDPOINT nothing of the OpenTelemetry SDK is loaded or
 * registered; with it, spans for HTTP requests, BullMQ jobs (in the trace of the request that
 * enqueued them) and outgoing calls arrive at an OTLP/HTTP receiver.
 */

// OTLP span kinds.
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;
const GH_TOKEN = 'ghp_tracing_token';
const SHA = 'b'.repeat(40);

function deployConfig(): string {
  const file = join(tempDir('tracing'), 'autodevhub.yaml');
  writeFileSync(file, 'projects:\n  - key: web\n    repo: acme/web\n    environments:\n      staging: { required_approvals: 0 }\n');
  return file;
}

let t: TestApp | undefined;
let otlp: Awaited<ReturnType<typeof startFakeOtlp>> | undefined;
let github: Awaited<ReturnType<typeof startFakeGitHub>> | undefined;
afterAll(async () => {
  await t?.stop();
  await otlp?.close();
  await github?.close();
});

const src = new URL('../../src/', import.meta.url).pathname;
const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('loads no tracing: only src/tracing.ts names the SDK, and it is imported only when the variable is set', async () => {
    for (const file of files(src)) {
      const text = readFileSync(file, 'utf8');
      if (file.endsWith('/src/tracing.ts')) continue;
      expect(/from '(@opentelemetry\/(?!api')|bullmq-otel)/.test(text), `${file} imports the tracing SDK`).toBe(false);
      expect(/import\s+[^(]*'\.\/tracing\.js'/.test(text), `${file} imports tracing.ts statically`).toBe(false);
    }
    t = await startTestApp();
    await consoleRun(t, await t.signIn(), 'story As a shopper I want to save my cart so that I can buy later');
    // Nothing registered a tracer provider: the API's global is the no-op.
    expect((trace.getTracerProvider() as ProxyTracerProvider).getDelegate().constructor.name).toBe('NoopTracerProvider');
    await t.stop();
    t = undefined;
  });
});

describe('with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('sends spans for HTTP requests, BullMQ jobs in the request’s trace, and outgoing calls', async () => {
    otlp = await startFakeOtlp();
    github = await startFakeGitHub({ token: GH_TOKEN });
    github.addRepo('acme/web', { main: SHA });
    github.setChecks(SHA, [{ context: 'ci/build', state: 'success' }], []);
    github.hooks.onDeploymentCreated = (d) => github!.addDeploymentStatus(d.id, 'success', 'https://staging.acme.test');
    t = await startTestApp({ AUTODEVHUB_CONFIG: deployConfig(), OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'autodevhub-test', GITHUB_TOKEN: GH_TOKEN, GITHUB_API_URL: github.url, DEPLOY_POLL_BASE_MS: '100' });
    const cookie = await t.signIn();
    const story = await consoleRun(t, cookie, 'story As a shopper I want to save my cart so that I can buy later');
    expect(story.run.status).toBe('succeeded');
    const deploy = await consoleRun(t, cookie, 'deploy acme/web staging');
    expect(deploy.run.status).toBe('succeeded');
    // Stopping flushes what is buffered.
    await t.stop();
    t = undefined;
    const spans = await waitFor(() => otlp!.spans.length > 0 && otlp!.spans, 5000, 'spans');
    const ours = spans.filter((s) => s.service === 'autodevhub-test');

    // Server spans are named by the route that answered.
    const command = ours.find((s) => s.kind === SERVER && s.name === 'POST /api/v1/commands');
    expect(command, 'a server span for POST /api/v1/commands').toBeDefined();
    expect(command!.attributes).toMatchObject({ 'http.route': '/api/v1/commands', 'url.path': '/api/v1/commands', 'http.response.status_code': 202 });
    expect(ours.some((s) => s.kind === SERVER && s.name === 'GET /api/v1/runs/:ref')).toBe(true);

    const produced = ours.filter((s) => s.kind === PRODUCER && s.scope === 'autodevhub-test');
    const consumed = ours.filter((s) => s.kind === CONSUMER && s.scope === 'autodevhub-test');
    expect(produced.length, 'BullMQ producer spans').toBeGreaterThan(0);
    expect(consumed.length, 'BullMQ consumer spans').toBeGreaterThan(0);
    // The story job ran in the trace of the request that queued it.
    expect(consumed.some((s) => s.traceId === command!.traceId && /story/.test(s.name)), 'the story job in the request’s trace').toBe(true);

    const githubCalls = ours.filter((s) => s.kind === CLIENT && String(s.attributes['url.full'] ?? s.attributes['http.url'] ?? '').startsWith(github!.url));
    expect(githubCalls.length, 'client spans for GitHub calls').toBeGreaterThan(2);
    expect(githubCalls.some((s) => s.attributes['http.response.status_code'] === 200 || s.attributes['http.status_code'] === 200)).toBe(true);
    // Outgoing calls made inside a deploy job belong to that job's trace.
    const deployJobs = consumed.filter((s) => /deploy/.test(s.name));
    expect(githubCalls.some((g) => deployJobs.some((j) => j.traceId === g.traceId))).toBe(true);
    // The exporter does not trace itself.
    expect(ours.some((s) => String(s.attributes['url.full'] ?? s.attributes['http.url'] ?? '').includes('/v1/traces'))).toBe(false);
  }, 60_000);
});
