import { randomBytes } from 'node:crypto';
import { Pool, type PoolClient } from 'pg';
import type { Sql, SqlPool, SqlResult, SqlValue } from '../../../../functions/core/ports/sql';
import { migrate } from '../../../../functions/core/schema/migrate';

/**
 * A fresh PostgreSQL database per test file, migrated by the project's runner.
 * Stopgap until the project harness (test/support/database.ts) lands: uses
 * DATABASE_URL, else REKEY_TEST_PG (a server URL without database).
 */
export interface TestDatabase {
  readonly sql: SqlPool;
  readonly url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env['DATABASE_URL'] ?? process.env['REKEY_TEST_PG'];
  if (!url) throw new Error('integration tests need DATABASE_URL or REKEY_TEST_PG (a PostgreSQL server)');
  return url;
}

class PgSql implements SqlPool {
  constructor(private readonly pool: Pool) {}
  async query<Row = Record<string, unknown>>(text: string, params: readonly SqlValue[] = []): Promise<SqlResult<Row>> {
    const r = await this.pool.query(text, params as unknown[]);
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
  }
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new ClientSql(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  close(): Promise<void> {
    return this.pool.end();
  }
}

class ClientSql implements Sql {
  constructor(private readonly client: PoolClient) {}
  async query<Row = Record<string, unknown>>(text: string, params: readonly SqlValue[] = []): Promise<SqlResult<Row>> {
    const r = await this.client.query(text, params as unknown[]);
    return { rows: r.rows as Row[], rowCount: r.rowCount ?? 0 };
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

export async function migratedDatabase(): Promise<TestDatabase> {
  const server = serverUrl();
  const name = `rekey_h7_${randomBytes(6).toString('hex')}`;
  const admin = new Pool({ connectionString: server, max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const parsed = new URL(server);
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  const sql = new PgSql(new Pool({ connectionString: url, max: 8 }));
  await migrate(sql);
  return {
    sql,
    url,
    async drop() {
      await sql.close();
      const a = new Pool({ connectionString: server, max: 1 });
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
