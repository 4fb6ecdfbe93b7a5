import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT, NotSignedIn } from './exit.js';

/**
 * Where the CLI keeps its tokens: one per server, in `<config folder>/autodevhub/credentials.json`
 * (XDG_CONFIG_HOME, else ~/.config), readable by the user only (0600 in a 0700 folder). Tokens are
 * never printed. AUTODEVHUB_URL and AUTODEVHUB_TOKEN override the file (CI).
 */

export interface ClientEnv {
  AUTODEVHUB_URL?: string;
  AUTODEVHUB_TOKEN?: string;
  XDG_CONFIG_HOME?: string;
  HOME?: string;
}

interface Stored {
  current?: string;
  servers: Record<string, { token: string; user?: string; savedAt: string }>;
}

export interface Target {
  url: string;
  token: string;
  /** Where the token came from, for messages: "AUTODEVHUB_TOKEN" or the credentials file. */
  source: string;
}

export function credentialsFile(env: ClientEnv): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'autodevhub', 'credentials.json');
}

/** `https://adh.acme.dev/` and `https://adh.acme.dev` are one server; a path prefix is kept. */
export function normaliseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new CliError(`"${raw.slice(0, 100)}" is not a server address; give one like https://autodevhub.acme.dev`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`The server address must start with https:// (or http://), not ${url.protocol}`, EXIT.usage);
  if (url.username || url.password) throw new CliError('Put the token in AUTODEVHUB_TOKEN or `autodevhub login`, not in the address.', EXIT.usage);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function read(file: string): Stored {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    return { servers: {} };
  }
  try {
    const parsed = JSON.parse(raw) as Partial<Stored>;
    return { ...(parsed.current && { current: parsed.current }), servers: parsed.servers ?? {} };
  } catch {
    throw new CliError(`${file} is not valid JSON; remove it and run autodevhub login again.`, EXIT.failed);
  }
}

function write(file: string, data: Stored): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  // Written beside and renamed: a crash never leaves half a file, and the token is never world-readable.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function saveCredentials(env: ClientEnv, url: string, token: string, user: string): void {
  const file = credentialsFile(env);
  const data = read(file);
  data.servers[url] = { token, user, savedAt: new Date().toISOString() };
  data.current = url;
  write(file, data);
}

/** Forgets a server's token; true when there was one. */
export function removeCredentials(env: ClientEnv, url: string): boolean {
  const file = credentialsFile(env);
  const data = read(file);
  if (!data.servers[url]) return false;
  delete data.servers[url];
  if (data.current === url) delete data.current;
  if (Object.keys(data.servers).length) write(file, data);
  else rmSync(file, { force: true });
  return true;
}

/** The server to talk to: --server, then AUTODEVHUB_URL, then the last one signed in to. */
export function serverUrl(env: ClientEnv, flag?: string): string {
  const raw = flag || env.AUTODEVHUB_URL || read(credentialsFile(env)).current;
  if (!raw) throw new CliError('No server: run `autodevhub login <url>`, or set AUTODEVHUB_URL.', EXIT.usage);
  return normaliseUrl(raw);
}

/** The server and its token; AUTODEVHUB_TOKEN wins over the stored one. */
export function target(env: ClientEnv, flag?: string): Target {
  const url = serverUrl(env, flag);
  if (env.AUTODEVHUB_TOKEN) return { url, token: env.AUTODEVHUB_TOKEN, source: 'AUTODEVHUB_TOKEN' };
  const stored = read(credentialsFile(env)).servers[url];
  if (!stored) throw new NotSignedIn(`Not signed in to ${url}: run \`autodevhub login ${url}\`, or set AUTODEVHUB_TOKEN.`, url);
  return { url, token: stored.token, source: credentialsFile(env) };
}
