import { REST } from '@discordjs/rest';
import { Routes } from 'discord-api-types/v10';
import { loadConfig } from '../../../core/config.js';
import { applicationCommands } from '../commands.js';

/**
 * `npm run discord:register` registers the /autodevhub command (global, or in one server with
 * `-- --guild <id>`, which shows up at once). `-- --dry-run` prints the JSON and sends nothing.
 */
async function main() {
  const args = process.argv.slice(2);
  const commands = applicationCommands();
  if (args.includes('--dry-run')) {
    process.stdout.write(`${JSON.stringify(commands, null, 2)}\n`);
    return;
  }
  const config = loadConfig(process.env);
  if ('disabled' in config.discord) throw new Error(config.discord.disabled);
  const guild = args.includes('--guild') ? args[args.indexOf('--guild') + 1] : undefined;
  const rest = new REST({ version: '10', api: config.discord.apiUrl }).setToken(config.discord.botToken);
  const route = guild ? Routes.applicationGuildCommands(config.discord.applicationId, guild) : Routes.applicationCommands(config.discord.applicationId);
  const result = (await rest.put(route, { body: commands })) as Array<{ id: string; name: string }>;
  process.stdout.write(`registered ${result.map((c) => `/${c.name} (${c.id})`).join(', ')}${guild ? ` in server ${guild}` : ' globally'}\n`);
}

// The REST client keeps sweeper timers; a one-shot command exits when it is done.
main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
