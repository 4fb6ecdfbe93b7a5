import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * AutoDevHub as separate operating-system processes, started as `npm start` starts it (tsx, from
 * the sources) with AUTODEVHUB_ROLE set: what a Kubernetes pod runs, minus the container. Each
 * keeps its port across restarts, as a pod's address behind a Service stays reachable by name.
 */
export interface AppProcess {
  role: 'web' | 'worker';
  port: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Everything it wrote (stdout and stderr), across restarts. */
  output(): string;
  /** Starts it and waits until /readyz answers 200. */
  start(): Promise<void>;
  /** Sends the signal and waits for the exit; resolves with the exit code (null after SIGKILL). */
  stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<number | null>;
}

const MAIN = resolve('src/main.ts');

export function appProcess(role: 'web' | 'worker', port: number, env: Record<string, string>, opts: { args?: string[] } = {}): AppProcess {
  let child: ChildProcess | undefined;
  let out = '';
  const args = opts.args ?? ['--import', 'tsx', MAIN];
  const p: AppProcess = {
    role,
    port,
    get pid() {
      return child?.pid;
    },
    get running() {
      return Boolean(child && child.exitCode === null && child.signalCode === null);
    },
    output: () => out,
    async start() {
      if (p.running) throw new Error(`${role} on ${port} is already running`);
      const c = spawn(process.execPath, args, {
        env: { ...process.env, ...env, AUTODEVHUB_ROLE: role, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const deadline = Date.now() + 120_000;
      for (;;) {
        if (c.exitCode !== null || c.signalCode !== null) throw new Error(`${role} on ${port} exited at start (${c.exitCode ?? c.signalCode}):\n${out.slice(-2000)}`);
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
        if (ready) return;
        if (Date.now() > deadline) throw new Error(`${role} on ${port} not ready within 120 s:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop(signal) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return c?.exitCode ?? null;
      const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
      c.kill(signal);
      return exited;
    },
  };
  return p;
}

/** `npm run migrate` before anything starts, as the Kubernetes Job does before a rollout. */
export function runMigrations(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', resolve('src/cli/migrate.ts'), 'up'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`migrations failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The one-time sign-in link a web process printed at start (one JSON line per log line when piped). */
export function signInLinkOf(output: string): string | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('signInLink')) continue;
    try {
      return (JSON.parse(line) as { signInLink?: string }).signInLink;
    } catch {
      /* not a JSON line */
    }
  }
  return undefined;
}

/** Resident memory of a process in MiB (/proc, Linux): now (VmRSS) or its peak so far (VmHWM). */
export function memoryMiBOf(pid: number | undefined, which: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  if (!pid) return Number.NaN;
  try {
    return Number(new RegExp(`^${which}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}
