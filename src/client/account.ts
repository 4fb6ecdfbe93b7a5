import type { Command } from 'commander';
import { createApiClient } from './api.js';
import { credentialsFile, normaliseUrl, removeCredentials, saveCredentials, serverUrl } from './credentials.js';
import { CliError, EXIT, type ExitCode } from './exit.js';
import { print, printJson, readLine, type Cli } from './io.js';
import { apiFor, type Action } from './verbs.js';

const SCOPES = ['read', 'run', 'deploy', 'approve', 'admin'];

/** Signing in and out, who you are, and your API tokens. */

interface Me {
  id: string;
  via: 'session' | 'token';
  person: string | null;
  identities: string[];
  admin: boolean;
  roles: Record<string, string>;
  scopes: string[] | null;
}

interface TokenInfo {
  id: number;
  name: string;
  scopes: string[];
  owner: string;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

async function login(cli: Cli, rawUrl: string | undefined, opts: { token?: string }): Promise<ExitCode> {
  const url = rawUrl ? normaliseUrl(rawUrl) : serverUrl(cli.env, cli.globals().server);
  const token = opts.token || cli.env.AUTODEVHUB_TOKEN || (await readLine(cli, `API token for ${url} (make one in the console, API tokens): `, { secret: true }));
  if (!token) throw new CliError('No token given: paste one, pass --token, or set AUTODEVHUB_TOKEN.', EXIT.usage);
  const me = await createApiClient({ url, token, source: 'login' }).get<Me>('/api/v1/me');
  saveCredentials(cli.env, url, token, me.id);
  if (cli.mode() === 'json') printJson(cli, { server: url, user: me.id, scopes: me.scopes });
  else print(cli, `Signed in to ${url} as ${me.id}${me.scopes ? ` (token scopes: ${me.scopes.join(', ')})` : ''}. Saved in ${credentialsFile(cli.env)}.`);
  return EXIT.succeeded;
}

function logout(cli: Cli, rawUrl: string | undefined): ExitCode {
  const url = rawUrl ? normaliseUrl(rawUrl) : serverUrl(cli.env, cli.globals().server);
  const removed = removeCredentials(cli.env, url);
  print(cli, removed ? `Signed out of ${url}. The token itself stays valid until it expires; revoke it with: autodevhub tokens revoke <id>` : `Not signed in to ${url}.`);
  return EXIT.succeeded;
}

async function whoami(cli: Cli): Promise<ExitCode> {
  const api = apiFor(cli);
  const me = await api.get<Me>('/api/v1/me');
  if (cli.mode() === 'json') {
    printJson(cli, { server: api.url, ...me });
    return EXIT.succeeded;
  }
  const roles = Object.entries(me.roles).map(([project, role]) => `${role} of ${project}`);
  print(cli, [
    `${me.id} on ${api.url}${me.admin ? ' (admin)' : ''}`,
    `identities: ${me.identities.join(', ') || 'none'}`,
    `roles: ${roles.join(', ') || (me.admin ? 'all (admin)' : 'none')}`,
    `token scopes: ${me.scopes?.join(', ') ?? 'all'}`,
  ].join('\n'));
  return EXIT.succeeded;
}

function tokenLine(t: TokenInfo): string {
  const state = t.revokedAt ? 'revoked' : Date.parse(t.expiresAt) < Date.now() ? 'expired' : `expires ${t.expiresAt.slice(0, 10)}`;
  return `${String(t.id).padEnd(6)} ${t.name.padEnd(24)} ${t.scopes.join(',').padEnd(28)} ${state}${t.lastUsedAt ? `, last used ${t.lastUsedAt.slice(0, 16).replace('T', ' ')}` : ''}`;
}

async function listTokens(cli: Cli, opts: { all?: boolean }): Promise<ExitCode> {
  const { tokens } = await apiFor(cli).get<{ tokens: TokenInfo[] }>(`/api/v1/tokens${opts.all ? '?all=true' : ''}`);
  if (cli.mode() === 'json') for (const t of tokens) printJson(cli, t);
  else print(cli, tokens.length ? tokens.map(tokenLine).join('\n') : 'No API tokens.');
  return EXIT.succeeded;
}

async function createToken(cli: Cli, name: string, opts: { scope: string[]; ttlDays?: string }): Promise<ExitCode> {
  if (!opts.scope.length) throw new CliError('Name the scopes: --scope read,run (read, run, deploy, approve, admin).', EXIT.usage);
  const unknown = opts.scope.filter((s) => !SCOPES.includes(s));
  if (unknown.length) throw new CliError(`Unknown scope "${unknown[0]!.slice(0, 20)}": use read, run, deploy, approve or admin.`, EXIT.usage);
  const ttlDays = opts.ttlDays === undefined ? undefined : Number(opts.ttlDays);
  if (ttlDays !== undefined && !Number.isInteger(ttlDays)) throw new CliError('--ttl-days must be a whole number of days.', EXIT.usage);
  const made = await apiFor(cli).post<TokenInfo & { token: string }>('/api/v1/tokens', { name, scopes: opts.scope, ...(ttlDays !== undefined && { ttlDays }) });
  // The new token is the answer asked for: alone on stdout, so a script can capture it.
  if (cli.mode() === 'json') printJson(cli, made);
  else {
    print(cli, made.token);
    cli.err.write(`Token ${made.id} "${made.name}" (${made.scopes.join(', ')}), expires ${made.expiresAt.slice(0, 10)}. It is shown once: keep it in a secret store.\n`);
  }
  return EXIT.succeeded;
}

async function revokeToken(cli: Cli, id: string): Promise<ExitCode> {
  if (!/^\d{1,15}$/.test(id)) throw new CliError(`"${id.slice(0, 40)}" is not a token id (see autodevhub tokens list).`, EXIT.usage);
  await apiFor(cli).delete(`/api/v1/tokens/${id}`);
  print(cli, `Token ${id} revoked.`);
  return EXIT.succeeded;
}

const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

export function registerAccount(program: Command, act: (fn: Action) => (...args: any[]) => Promise<void>, cli: Cli): void {
  program
    .command('login')
    .description('Sign in to a server with an API token (pasted, --token, or AUTODEVHUB_TOKEN); stored per server, mode 0600')
    .argument('[url]', 'the server, e.g. https://autodevhub.acme.dev')
    .option('--token <token>', 'the token (prefer pasting it or AUTODEVHUB_TOKEN: arguments show in ps)')
    .action(act((url: string | undefined, opts) => login(cli, url, opts)));
  program
    .command('logout')
    .description("Forget a server's stored token")
    .argument('[url]')
    .action(act(async (url: string | undefined) => logout(cli, url)));
  program.command('whoami').description('Who the server takes you for: identities, roles, token scopes').action(act(() => whoami(cli)));
  const tokens = program.command('tokens').description('Your API tokens');
  tokens
    .command('list', { isDefault: true })
    .description('List your tokens (never their secrets)')
    .option('--all', "everyone's (admins)")
    .action(act((opts) => listTokens(cli, opts)));
  tokens
    .command('create')
    .description('Make a token; it is printed once')
    .argument('<name>')
    .option('-s, --scope <scopes>', 'read, run, deploy, approve, admin (repeat or comma-separate)', collect, [])
    .option('--ttl-days <days>', 'lifetime in days (default 90)')
    .action(act((name: string, opts) => createToken(cli, name, opts)));
  tokens.command('revoke').description('Revoke a token').argument('<id>').action(act((id: string) => revokeToken(cli, id)));
}
