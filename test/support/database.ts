import { randomBytes } from 'node:crypto';
import { createPgSql } from '../../functions/core/adapters/pg/sql';
import type { SqlPool } from '../../functions/core/ports/sql';
import { migrate } from '../../functions/core/schema/migrate';
import { requestPgliteDatabase } from './pglite-factory';

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
    throw new Error(
      'no test PostgreSQL: integration tests run under the jest `integration` project, whose globalSetup starts one',
    );
  }
  return url;
}

/** Pool size the test PostgreSQL allows (1 on the PGlite fallback). */
export function testPoolSize(wanted = 4): number {
  return process.env.REKEY_TEST_PG_MAX_CONNECTIONS === '1' ? 1 : wanted;
}

/**
 * For tests that need a real PostgreSQL server: parallel connections (PGlite
 * runs one statement at a time, so they would wait forever), logins, several
 * databases, statement timeouts, TLS, or server binaries of their own. On the
 * PGlite fallback they fail at once saying why, instead of hanging or
 * passing for the wrong reason.
 */
export function requireRealPostgres(why: string): void {
  if (process.env.REKEY_TEST_PG_KIND === 'pglite') {
    throw new Error(
      `NOT RUN on the embedded PGlite fallback: ${why}; run with a real PostgreSQL (DATABASE_URL or the server binaries)`,
    );
  }
}

/**
 * A new, empty database for one test file: CREATE DATABASE on a real server;
 * on the PGlite fallback a new PGlite instance from the factory the
 * globalSetup runs (one PGlite is one session, so a schema per file selected
 * by search_path would leak between files).
 */
export async function freshDatabase(options: { readonly poolSize?: number } = {}): Promise<TestDatabase> {
  if (process.env.REKEY_TEST_PG_KIND === 'pglite') {
    const factory = process.env.REKEY_TEST_PGLITE_FACTORY;
    if (!factory)
      throw new Error(
        'REKEY_TEST_PG_KIND=pglite but REKEY_TEST_PGLITE_FACTORY is not set: run under the jest integration project',
      );
    const instance = await requestPgliteDatabase(factory);
    const sql = createPgSql({ connectionString: instance.url, max: testPoolSize(options.poolSize ?? 4) });
    return {
      url: instance.url,
      sql,
      drop: async () => {
        await sql.close();
        await instance.drop();
      },
    };
  }
  const name = `rekey_test_${randomBytes(6).toString('hex')}`;
  const admin = adminUrl();
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
