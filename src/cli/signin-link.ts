import { loadConfig } from '../core/config.js';
import { EmbeddedDatabaseBusyError, openDatabase } from '../core/db/orm.js';
import { createSignInToken } from '../core/access/sessions.js';

/** Prints a new one-time console sign-in link. With the embedded database, stop the server first. */
async function main() {
  const config = loadConfig(process.env);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const token = await createSignInToken(db.orm.em.fork(), 'web:admin');
    process.stdout.write(`${config.publicUrl}/auth/signin?token=${token}\n`);
  } finally {
    await db.close();
  }
}

main().catch((err: unknown) => {
  if (err instanceof EmbeddedDatabaseBusyError) {
    process.stderr.write(
      `AutoDevHub is running (process ${err.pid}) on the embedded database in ${err.dataDir}, which only one process can open.\n` +
        `- Its start-up output shows a sign-in link (valid 24 h): scroll up in the terminal where you ran npm start.\n` +
        `- Or stop it (Ctrl-C) and run npm run signin-link again, or start it again: every start prints a new link.\n` +
        `(With DATABASE_URL set to a Postgres, this command works while the server runs.)\n`,
    );
    process.exit(75);
  }
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
