import { freshDatabase, requireRealPostgres } from '../../support/database';
import { createPgSql } from '../../../functions/core/adapters/pg/sql';
import {
  MigrationChecksumError,
  SchemaNotMigratedError,
  SchemaTooNewError,
} from '../../../functions/core/schema/errors';
import { assertSchemaCurrent, migrate, schemaStatus } from '../../../functions/core/schema/migrate';
import { MIGRATIONS } from '../../../functions/core/schema/migrations';
import type { Migration } from '../../../functions/core/schema/migration';

type Db = Awaited<ReturnType<typeof freshDatabase>>;

describe('schema migrations on a real PostgreSQL', () => {
  let db: Db;
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('applies every migration on an empty database, then nothing on a second run', async () => {
    const before = await schemaStatus(db.sql);
    expect(before.databaseVersion).toBe(0);
    expect(before.pending.map((p) => p.version)).toEqual(MIGRATIONS.map((m) => m.version));

    const first = await migrate(db.sql);
    expect(first.applied.map((a) => a.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(first.status.databaseVersion).toBe(MIGRATIONS.length);

    const second = await migrate(db.sql);
    expect(second.applied).toEqual([]);
    const { rows } = await db.sql.query<{ n: string }>('SELECT count(*)::text AS n FROM rekey_schema_migrations');
    expect(rows[0]!.n).toBe(String(MIGRATIONS.length));
    await expect(assertSchemaCurrent(db.sql)).resolves.toMatchObject({ databaseVersion: MIGRATIONS.length });
  });

  it('stops at a target version and reports the rest as pending', async () => {
    await migrate(db.sql, { target: 1 });
    const status = await schemaStatus(db.sql);
    expect(status.databaseVersion).toBe(1);
    expect(status.pending.map((p) => p.version)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
    await expect(assertSchemaCurrent(db.sql)).rejects.toBeInstanceOf(SchemaNotMigratedError);
  });

  it('refuses a database migrated by a newer rekey, naming both versions, before changing anything', async () => {
    await migrate(db.sql);
    const future: Migration = {
      version: MIGRATIONS.length + 1,
      name: 'from_the_future',
      up: 'CREATE TABLE rekey_future (x int)',
    };
    await migrate(db.sql, { migrations: [...MIGRATIONS, future] });
    const err = await migrate(db.sql).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toContain(`version ${MIGRATIONS.length + 1}`);
    expect((err as Error).message).toContain(`up to ${MIGRATIONS.length}`);
    await expect(assertSchemaCurrent(db.sql)).rejects.toBeInstanceOf(SchemaTooNewError);
  });

  it('detects an applied migration whose SQL was edited afterwards', async () => {
    const original: Migration = { version: 1, name: 'one', up: 'CREATE TABLE rekey_one (x int)' };
    await migrate(db.sql, { migrations: [original] });
    const edited: Migration = { ...original, up: 'CREATE TABLE rekey_one (x bigint)' };
    const second: Migration = { version: 2, name: 'two', up: 'CREATE TABLE rekey_two (x int)' };
    await expect(migrate(db.sql, { migrations: [edited, second] })).rejects.toBeInstanceOf(MigrationChecksumError);
    const { rows } = await db.sql.query<{ present: boolean }>("SELECT to_regclass('rekey_two') IS NOT NULL AS present");
    expect(rows[0]!.present).toBe(false);
  });

  it('rolls a failing migration back whole', async () => {
    const broken: Migration = {
      version: 1,
      name: 'broken',
      up: 'CREATE TABLE rekey_half (x int); SELECT no_such_function()',
    };
    await expect(migrate(db.sql, { migrations: [broken] })).rejects.toBeDefined();
    const { rows } = await db.sql.query<{ present: boolean }>(
      "SELECT to_regclass('rekey_half') IS NOT NULL AS present",
    );
    expect(rows[0]!.present).toBe(false);
    expect((await schemaStatus(db.sql, { migrations: [broken] })).databaseVersion).toBe(0);
  });

  it('lets two processes migrate at once without applying anything twice', async () => {
    requireRealPostgres('two migrations at once need two connections');
    const other = createPgSql({ connectionString: db.url, max: 2 });
    try {
      const [a, b] = await Promise.all([migrate(db.sql), migrate(other)]);
      const applied = [...a.applied, ...b.applied].map((x) => x.version).sort((x, y) => x - y);
      expect(applied).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await other.close();
    }
  });
});
