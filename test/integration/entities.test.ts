import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MikroORM } from '@mikro-orm/postgresql';
import { DatabaseSchema } from '@mikro-orm/knex';
import { createTestDatabase } from '../helpers/db.js';
import { openDatabase, type Database } from '../../src/core/db/orm.js';
import { entities } from '../../src/core/db/entities.js';

/**
 * The entities and the migrations describe the same tables: every table has an entity, every
 * column the same type and nullability, every foreign key a relation with the same delete rule.
 * Indexes and check constraints are the migrations' alone.
 */

let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Database;

beforeAll(async () => {
  dbInfo = await createTestDatabase();
  db = await openDatabase({ databaseUrl: dbInfo.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await db?.close();
  await dbInfo?.drop();
});

/** Postgres spells types more than one way; these are the same type. */
function normalise(type: string): string {
  const t = type.toLowerCase().replace(/\(.*\)/, '').trim();
  const same: Record<string, string> = { int4: 'int', integer: 'int', serial: 'int', int8: 'bigint', bigserial: 'bigint', float8: 'double precision', double: 'double precision', bool: 'boolean', 'timestamp with time zone': 'timestamptz', varchar: 'text', 'character varying': 'text' };
  return same[t] ?? t;
}

type Shape = Record<string, { columns: Record<string, string>; foreignKeys: string[] }>;

function shapeOf(schema: DatabaseSchema): Shape {
  const shape: Shape = {};
  for (const table of schema.getTables()) {
    if (table.name === 'mikro_orm_migrations') continue;
    const columns: Record<string, string> = {};
    for (const c of table.getColumns()) columns[c.name] = `${normalise(c.type)}${c.nullable ? ' null' : ' not null'}`;
    const foreignKeys = Object.values(table.getForeignKeys())
      .map((fk) => `${fk.columnNames.join(',')} -> ${fk.referencedTableName.replace(/^public\./, '')}(${fk.referencedColumnNames.join(',')}) on delete ${fk.deleteRule ?? 'no action'}`)
      .sort();
    shape[table.name] = { columns, foreignKeys };
  }
  return shape;
}

describe('entities in step with the migrations', () => {
  it('describe the same tables, columns and foreign keys as the migrated database', async () => {
    const platform = db.orm.em.getPlatform();
    const connection = db.orm.em.getConnection();
    const fromDatabase = await DatabaseSchema.create(connection, platform, db.orm.config);
    const fromEntities = DatabaseSchema.fromMetadata(Object.values(db.orm.getMetadata().getAll()), platform, db.orm.config);
    expect(shapeOf(fromEntities)).toEqual(shapeOf(fromDatabase));
    expect(entities.length).toBe(Object.keys(shapeOf(fromDatabase)).length);
  });
});

export type { MikroORM };
