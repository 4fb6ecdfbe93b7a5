import { loadConfig } from '../core/config.js';
import { openDatabase } from '../core/db/orm.js';
import { createSignInToken } from '../core/services/auth.js';

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
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
