import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * Docker cannot run here, so the compose file is read as compose reads it and held against what
 * the README promises and what the code needs (config variables, health route, data folder).
 */
const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, any>; volumes: Record<string, unknown> };
const operations = readFileSync('docs/operations.md', 'utf8');
const composeSection = operations.slice(operations.indexOf('## Running with Docker Compose'), operations.indexOf('## Metrics'));
const dockerfile = readFileSync('Dockerfile', 'utf8');
const envExample = readFileSync('.env.example', 'utf8');
const configSource = readFileSync('src/core/config.ts', 'utf8');
const { web, worker, postgres, redis } = compose.services;

const volumeAt = (service: any, target: string) =>
  (service.volumes as Array<string | { source: string; target: string; read_only?: boolean; bind?: { create_host_path?: boolean } }>)
    .map((v) => (typeof v === 'string' ? { source: v.split(':')[0]!, target: v.split(':')[1]! } : v))
    .find((v) => v.target === target);

describe('docker-compose.yml', () => {
  it('has postgres, redis, web and worker (monitoring only under its profile), all restarted unless stopped', () => {
    const always = Object.entries(compose.services).filter(([, s]) => !(s as { profiles?: string[] }).profiles).map(([name]) => name);
    expect(always.sort()).toEqual(['postgres', 'redis', 'web', 'worker']);
    const monitoring = Object.entries(compose.services).filter(([, s]) => (s as { profiles?: string[] }).profiles?.includes('monitoring')).map(([name]) => name);
    expect(monitoring.sort()).toEqual(['grafana', 'prometheus']);
    for (const s of Object.values(compose.services)) expect(s.restart).toBe('unless-stopped');
  });

  it('requires AUTODEVHUB_SECRET and gives web and worker the same one', () => {
    expect(web.environment.AUTODEVHUB_SECRET).toMatch(/^\$\{AUTODEVHUB_SECRET:\?.+\}$/);
    expect(worker.environment.AUTODEVHUB_SECRET).toBe(web.environment.AUTODEVHUB_SECRET);
    expect(envExample).toMatch(/^# AUTODEVHUB_SECRET=$/m);
    expect(envExample).toMatch(/openssl rand -base64 32/);
    expect(composeSection).toMatch(/AUTODEVHUB_SECRET[^\n]*\(`openssl rand -base64 32`\)/);
  });

  it.each(['web', 'worker'])('%s: writable data volume at DATA_DIR, the config file mounted and named, Postgres and Redis of the compose file', (name) => {
    const s = compose.services[name];
    expect(s.environment.AUTODEVHUB_ROLE).toBe(name);
    const dataDir = s.environment.DATA_DIR as string;
    expect(dataDir).toBe('/data');
    expect(volumeAt(s, dataDir)?.source).toBe('app-data');
    expect(compose.volumes).toHaveProperty('app-data');
    const config = volumeAt(s, s.environment.AUTODEVHUB_CONFIG);
    expect(config).toMatchObject({ source: './autodevhub.yaml', read_only: true, bind: { create_host_path: false } });
    expect(s.environment.DATABASE_URL).toMatch(/^postgresql:\/\/autodevhub:autodevhub@postgres:5432\/autodevhub$/);
    expect(s.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(s.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    // Every variable it sets is one the configuration knows.
    for (const key of Object.keys(s.environment)) expect(configSource, key).toContain(`${key}:`);
  });

  it.each(['web', 'worker'])('%s: health check on /readyz of its own port', (name) => {
    const s = compose.services[name];
    expect(s.healthcheck.test.join(' ')).toContain(`http://127.0.0.1:${s.environment.PORT}/readyz`);
  });

  it('redis keeps jobs (AOF, noeviction, volume); postgres has a volume', () => {
    const cmd = redis.command.join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(volumeAt(redis, '/data')?.source).toBe('redis-data');
    expect(volumeAt(postgres, '/var/lib/postgresql/data')?.source).toBe('postgres-data');
    expect(Object.keys(compose.volumes).sort()).toEqual(['app-data', 'grafana-data', 'postgres-data', 'prometheus-data', 'redis-data']);
  });

  it('the operations guide walks through it: .env, autodevhub.yaml, up, logs web for the sign-in link', () => {
    const steps = ['cp .env.example .env', 'cp autodevhub.example.yaml autodevhub.yaml', 'docker compose up -d --build', 'docker compose logs web'];
    const at = steps.map((s) => composeSection.indexOf(s));
    expect(at.every((i) => i >= 0), JSON.stringify(at)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(composeSection).toMatch(/sign-in link/);
    for (const v of Object.keys(compose.volumes)) expect(composeSection).toContain(`\`${v}\``);
    expect(composeSection).toContain(web.environment.AUTODEVHUB_CONFIG);
    expect(composeSection).toContain('/readyz');
  });
});

describe('Dockerfile', () => {
  it('runs as the unprivileged node user, with DATA_DIR a folder that user owns', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    const dataDir = /ENV [^\n]*DATA_DIR=(\S+)/.exec(runtime)?.[1];
    expect(dataDir).toBe(web.environment.DATA_DIR);
    expect(runtime).toMatch(new RegExp(`RUN mkdir -p ${dataDir} && chown node:node ${dataDir}`));
    expect(runtime).toMatch(/^USER node$/m);
    // USER comes after the chown (which needs root) and before the command.
    expect(runtime.indexOf('chown node:node')).toBeLessThan(runtime.indexOf('USER node'));
    expect(runtime).toMatch(/CMD \["node", "dist\/src\/main\.js"\]/);
  });
});
