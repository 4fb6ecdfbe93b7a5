/**
 * A first run as a newcomer has it, for test/integration/embedded.test.ts, which starts this
 * script inside a private network namespace (`unshare -n`): nothing listens on 5432 or 6379 there,
 * so data that went anywhere but PGlite, or a Redis that is not the private one, fails the run.
 * Prints one `RESULT <name> <json>` line per finding; the test asserts on them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { redisAnswers } from '../../src/jobs/local-redis.js';
import { freePort } from '../helpers/ports.js';

const result = (name: string, value: unknown) => console.log(`RESULT ${name} ${JSON.stringify(value)}`);
const STORY = 'story As a shopper I want to save my cart so that I can buy later';

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}


/** The environment of a person who set nothing: no DATABASE_URL, no REDIS_URL, no secret. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', ...extra };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AUTODEVHUB_SECRET', 'AUTODEVHUB_CONFIG', 'AUTODEVHUB_QUEUE_PREFIX']) delete env[k];
  return env;
}

interface Server {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function startServer(env: NodeJS.ProcessEnv): Server {
  // A process group of its own, as a terminal gives `npm start`: Ctrl-C signals the whole group.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 90_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function signIn(server: Server): Promise<{ base: string; cookie: string }> {
  const link = await until('the sign-in link', () => /One-time sign-in link \(valid 24 h\): ([^\s"]+)/.exec(server.output())?.[1]);
  // Opening the link shows a button; pressing it posts the token.
  const page = await fetch(link, { redirect: 'manual' });
  if (page.status !== 200) throw new Error(`the sign-in link answered ${page.status}`);
  const res = await fetch(`${new URL(link).origin}/auth/signin`, { method: 'POST', body: new URLSearchParams({ token: new URL(link).searchParams.get('token') ?? '' }), redirect: 'manual' });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
  return { base: new URL(link).origin, cookie: res.headers.get('set-cookie')!.split(';')[0]! };
}

async function runStory(base: string, cookie: string): Promise<{ ref: string; status: string; generator: unknown }> {
  const res = await fetch(`${base}/api/v1/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ text: STORY }) });
  if (res.status !== 202) throw new Error(`the command answered ${res.status}: ${await res.text()}`);
  const { run } = (await res.json()) as { run: { ref: string } };
  return until(`${run.ref} to finish`, async () => {
    const body = (await (await fetch(`${base}/api/v1/runs/${run.ref}`, { headers: { cookie } })).json()) as { run: { status: string }; story: { provider?: string } | null };
    return ['succeeded', 'failed'].includes(body.run.status) && { ref: run.ref, status: body.run.status, generator: body.story?.provider };
  });
}

async function stop(server: Server, how: 'SIGTERM' | 'Ctrl-C'): Promise<number | null> {
  if (how === 'Ctrl-C') process.kill(-server.child.pid!, 'SIGINT');
  else server.child.kill('SIGTERM');
  return server.exited;
}

async function firstRunAndRestart(dataDir: string) {
  const env = freshEnv({ DATA_DIR: dataDir, PORT: String(await freePort()) });
  const first = startServer(env);
  const a = await signIn(first);
  result('firstStory', await runStory(a.base, a.cookie));
  result('firstLog', {
    privateRedis: first.output().includes('started a private Redis'),
    embedded: first.output().includes('using the embedded database (PGlite)'),
  });
  // While it runs, the embedded database is the server's: the CLI says what to do instead.
  const cli = spawn(process.execPath, ['--import', 'tsx', 'src/cli/signin-link.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let cliOut = '';
  cli.stdout!.on('data', (d: Buffer) => (cliOut += d.toString()));
  cli.stderr!.on('data', (d: Buffer) => (cliOut += d.toString()));
  result('signinLinkWhileRunning', { code: await new Promise((r) => cli.once('exit', r)), output: cliOut });
  // A second start on the same DATA_DIR is refused, and leaves the first one (and its Redis) alone.
  const twin = startServer({ ...env, PORT: String(await freePort()) });
  const twinCode = await twin.exited;
  const ready = (await fetch(`${a.base}/readyz`).then((r) => r.json(), () => ({}))) as { ok?: boolean };
  result('secondStartWhileRunning', { code: twinCode, output: twin.output(), firstStillReady: ready.ok === true, firstStillRuns: (await runStory(a.base, a.cookie)).status });
  const firstCode = await stop(first, 'Ctrl-C');
  const shutdownLog = first.output().slice(first.output().indexOf('"shutting down"'));
  result('firstStop', {
    code: firstCode,
    privateRedisStillAnswers: await redisAnswers(join(dataDir, 'redis', 'redis.sock'), 500),
    // Redis must outlive AutoDevHub's connections: no connection errors while it shuts down.
    errorsWhileStopping: shutdownLog.split('\n').filter((l) => /ENOENT|ECONNREFUSED|"level":(40|50|60)/.test(l)),
  });

  const second = startServer(env);
  const b = await signIn(second);
  const kept = (await (await fetch(`${b.base}/api/v1/runs/R-1001`, { headers: { cookie: b.cookie } })).json()) as { run?: { status: string } };
  result('afterRestart', { firstRun: kept.run?.status ?? null, secondStory: await runStory(b.base, b.cookie) });
  result('secondStop', { code: await stop(second, 'SIGTERM') });

  // The server is gone: the runs must be in the PGlite folder itself.
  const db = await PGlite.create(join(dataDir, 'pgdata'));
  const runs = await db.query<{ number: number; kind: string; status: string }>('select number, kind, status from workflow_runs order by id');
  const stories = await db.query<{ n: number }>('select count(*)::int as n from user_stories');
  await db.close();
  result('pglite', { runs: runs.rows, stories: stories.rows[0]!.n, appendOnlyFile: existsSync(join(dataDir, 'redis', 'appendonlydir')) });
}

async function refusals(scratch: string) {
  const noRedis = startServer(freshEnv({ DATA_DIR: join(scratch, 'no-redis'), PORT: String(await freePort()), PATH: '/nonexistent' }));
  result('noRedisServer', { code: await noRedis.exited, output: noRedis.output() });
  const explicit = startServer({ ...freshEnv({ DATA_DIR: join(scratch, 'explicit'), PORT: String(await freePort()) }), REDIS_URL: 'redis://127.0.0.1:6390' });
  result('explicitRedisUrl', { code: await explicit.exited, output: explicit.output(), privateRedisDir: existsSync(join(scratch, 'explicit', 'redis')) });
}

async function main() {
  result('listening', { postgres5432: await tcpOpen(5432), redis6379: await tcpOpen(6379) });
  const scratch = mkdtempSync(join(tmpdir(), 'adh-first-run-'));
  try {
    await firstRunAndRestart(join(scratch, 'data'));
    await refusals(scratch);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
