import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { openDatabase } from '../core/db/orm.js';
import { auditHead, exportAudit, verifyAuditChain, type ExportFormat } from '../core/audit/service.js';

const USAGE = `usage:
  npm run audit -- verify [--expect <seq>:<hash>]   check the hash chain; names the first broken row (exit 1)
  npm run audit -- head                             print the newest row's seq and hash (record it elsewhere)
  npm run audit -- export [--format csv|json] [--actor ID] [--action NAME|family.*] [--project KEY]
                          [--target REF] [--since ISO] [--until ISO]   rows to standard output, oldest first`;

function date(value: string | undefined, name: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`--${name}: "${value}" is not a date (use ISO 8601, e.g. 2026-11-01 or 2026-11-01T12:00:00Z)`);
  return d;
}

/** `npm run audit -- verify | head | export`. With the embedded database, stop the server first. */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      expect: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      actor: { type: 'string' },
      action: { type: 'string' },
      project: { type: 'string' },
      target: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    },
  });
  const command = positionals[0];
  if (!command || !['verify', 'head', 'export'].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const expect = values.expect ? /^(\d+):([0-9a-f]{64})$/.exec(values.expect) : undefined;
  if (values.expect && !expect) throw new Error('--expect takes <seq>:<64 hex characters>, as `npm run audit -- head` prints it');
  const config = loadConfig(process.env);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const em = db.orm.em.fork();
    if (command === 'head') {
      const head = await auditHead(em);
      process.stdout.write(head ? `${head.seq}:${head.hash}  (${head.at})\n` : 'the audit log is empty\n');
      return 0;
    }
    if (command === 'export') {
      const filter = {
        actor: values.actor,
        action: values.action,
        project: values.project,
        target: values.target,
        since: date(values.since, 'since'),
        until: date(values.until, 'until'),
      };
      for await (const chunk of exportAudit(em, filter, values.format as ExportFormat)) process.stdout.write(chunk);
      return 0;
    }
    const result = await verifyAuditChain(em, expect ? { expect: { seq: Number(expect[1]), hash: expect[2]! } } : {});
    const start = result.from.seq ? `from the anchor at row ${result.from.seq}` : 'from the first row';
    if (result.ok) {
      process.stdout.write(`audit chain verified: ${result.rows} row(s) ${start}${result.head ? `; head ${result.head.seq}:${result.head.hash}` : ''}\n`);
      return 0;
    }
    const b = result.broken!;
    process.stdout.write(`audit chain BROKEN at row ${b.seq} (id ${b.id}): ${b.reason}. ${result.rows} row(s) checked ${start}.\n`);
    return 1;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  },
);
