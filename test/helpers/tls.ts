import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The server certificate test/setup/tls.ts made (signed by the suite's CA, which every worker trusts). */
export function testServerTls(): { key: string; cert: string } {
  const dir = process.env.ADH_TEST_TLS_DIR;
  if (!dir) throw new Error('ADH_TEST_TLS_DIR is unset: test/setup/tls.ts must run as a vitest globalSetup');
  return { key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.pem'), 'utf8') };
}
