import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Once per `npm test`: a certificate authority of the suite's own, and a server certificate it
 * signed for 127.0.0.1 and localhost, so fakes of outside services can speak HTTPS (Microsoft's
 * login, keys and connector are HTTPS only). Node reads NODE_EXTRA_CA_CERTS once, when a process
 * starts: set here, before vitest forks its workers, every worker (and the app inside it) trusts
 * this authority and no other extra one. Made with the openssl command line, which the machine has.
 */
export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'adh-test-ca-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=AutoDevHub test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'ca.pem');
  process.env.ADH_TEST_TLS_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
