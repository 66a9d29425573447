import { randomBytes } from 'node:crypto';
import { createPgSql } from '../../functions/core/adapters/pg-sql';
import type { SqlPool } from '../../functions/core/ports/sql';
import { migrate } from '../../functions/core/schema/migrate';

export interface TestDatabase {
  /** Connection string of this test's own database. */
  readonly url: string;
  readonly sql: SqlPool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.REKEY_TEST_ADMIN_URL;
  if (!url) {
    throw new Error('no test PostgreSQL: integration tests run under the jest `integration` project, whose globalSetup starts one');
  }
  return url;
}

/** Pool size the test PostgreSQL allows (1 on the PGlite fallback). */
export function testPoolSize(wanted = 4): number {
  return process.env.REKEY_TEST_PG_MAX_CONNECTIONS === '1' ? 1 : wanted;
}

/**
 * A new, empty database for one test file: CREATE DATABASE on a real server;
 * on the PGlite fallback (one database) a new schema selected by search_path.
 */
export async function freshDatabase(options: { readonly poolSize?: number } = {}): Promise<TestDatabase> {
  const name = `rekey_test_${randomBytes(6).toString('hex')}`;
  const admin = adminUrl();
  if (process.env.REKEY_TEST_PG_KIND === 'pglite') {
    const bootstrap = createPgSql({ connectionString: admin, max: 1 });
    await bootstrap.query(`CREATE SCHEMA ${name}`);
    await bootstrap.close();
    const u = new URL(admin);
    u.searchParams.set('options', `-c search_path=${name}`);
    const sql = createPgSql({ connectionString: u.toString(), max: 1 });
    return {
      url: u.toString(),
      sql,
      drop: async () => {
        await sql.close();
        const cleanup = createPgSql({ connectionString: admin, max: 1 });
        await cleanup.query(`DROP SCHEMA ${name} CASCADE`).finally(() => cleanup.close());
      },
    };
  }
  const adminSql = createPgSql({ connectionString: admin, max: 1 });
  try {
    await adminSql.query(`CREATE DATABASE ${name}`);
  } finally {
    await adminSql.close();
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const sql = createPgSql({ connectionString: u.toString(), max: testPoolSize(options.poolSize ?? 4) });
  return {
    url: u.toString(),
    sql,
    drop: async () => {
      await sql.close();
      const cleanup = createPgSql({ connectionString: admin, max: 1 });
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => cleanup.close());
    },
  };
}

/** freshDatabase() with every rekey migration applied. */
export async function migratedDatabase(options: { readonly poolSize?: number } = {}): Promise<TestDatabase> {
  const db = await freshDatabase(options);
  await migrate(db.sql);
  return db;
}
