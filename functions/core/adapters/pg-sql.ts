import pg from 'pg';
import type { Sql, SqlPool, SqlResult, SqlValue } from '../ports/sql';
import {
  DatabaseAuthenticationError,
  DatabaseConnectionError,
  DatabaseError,
  QueryError,
  SerializationError,
  UniqueViolationError,
  UnknownDatabaseError,
} from '../ports/sql-errors';
import { ConnectionStringError, pgConnectionOptions } from './pg/connection';

export { describeConnection, isLoopback, type ConnectionDescription } from './pg/connection';

// int8 (counts, bigserial ids) stays a string: a JS number would silently round past 2^53.
// bytea arrives as Buffer (pg's default); timestamptz as Date; jsonb parsed.
const types = {
  getTypeParser: (oid: number, format?: string) => {
    if (oid === 20) return (v: string) => v;
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PgSqlOptions {
  readonly connectionString: string;
  /** Pool size. The embedded PGlite fallback serves one connection: use 1 there. @default 4 */
  readonly max?: number;
  /** Shown in pg_stat_activity. @default 'rekey' */
  readonly applicationName?: string;
  /** Per-statement timeout in ms (0 = none). @default 0 */
  readonly statementTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The Sql port over node-postgres. `transaction` runs on one pooled client;
 * a transaction() inside a transaction becomes a SAVEPOINT, so a nested
 * failure rolls back only its own part.
 */
export function createPgSql(options: PgSqlOptions): SqlPool {
  let connection: ReturnType<typeof pgConnectionOptions>;
  try {
    connection = pgConnectionOptions(options.connectionString, options.env);
  } catch (err) {
    if (err instanceof ConnectionStringError) throw new DatabaseConnectionErrorFinal(err.message, err);
    throw err;
  }
  const pool = new pg.Pool({
    connectionString: connection.connectionString,
    ssl: connection.ssl,
    max: options.max ?? 4,
    application_name: options.applicationName ?? 'rekey',
    statement_timeout: options.statementTimeoutMs || undefined,
    types,
    connectionTimeoutMillis: 15_000,
    idleTimeoutMillis: 10_000,
  });
  // An idle client dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);

  const onClient = (client: pg.PoolClient | pg.Pool, depth: number): Sql => ({
    query: <Row>(text: string, params?: readonly SqlValue[]) => run<Row>(client, text, params),
    transaction: async <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (depth === 0) {
        const c = await pool.connect().catch((err: unknown) => {
          throw mapError(err);
        });
        let broken = false;
        try {
          await run(c, 'BEGIN');
          const result = await fn(onClient(c, 1));
          await run(c, 'COMMIT');
          return result;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => {
            broken = true;
          });
          throw err;
        } finally {
          c.release(broken);
        }
      }
      const savepoint = `rekey_sp_${depth}`;
      await run(client, `SAVEPOINT ${savepoint}`);
      try {
        const result = await fn(onClient(client, depth + 1));
        await run(client, `RELEASE SAVEPOINT ${savepoint}`);
        return result;
      } catch (err) {
        await run(client, `ROLLBACK TO SAVEPOINT ${savepoint}`);
        throw err;
      }
    },
  });

  const root = onClient(pool, 0);
  return { ...root, close: () => pool.end() };
}

async function run<Row>(client: pg.PoolClient | pg.Pool, text: string, params?: readonly SqlValue[]): Promise<SqlResult<Row>> {
  try {
    const result = await client.query(text, params as unknown[] | undefined);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  } catch (err) {
    throw mapError(err);
  }
}

class DatabaseConnectionErrorFinal extends DatabaseError {
  readonly code = 'DB_CONNECTION_STRING';
  constructor(message: string, cause: unknown) {
    super(message, undefined, { cause });
  }
}

/** pg / network errors → the SQL port's errors. Never copies parameters into the message. */
export function mapError(err: unknown): unknown {
  if (err instanceof DatabaseError) return err;
  const e = err as { code?: string; message?: string; severity?: string; detail?: string; table?: string; constraint?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code && /^[0-9A-Z]{5}$/.test(code) && e.severity) {
    if (code === '28P01' || code === '28000') {
      return new DatabaseAuthenticationError(
        `the database refused the login (${message}): check the user and password in the database URL, and whether the server requires TLS (sslmode=require)`,
        code,
        { cause: err },
      );
    }
    if (code === '3D000') {
      return new UnknownDatabaseError(`${message}: create it or fix the database name in the URL`, code, { cause: err });
    }
    if (code === '40001' || code === '40P01') {
      return new SerializationError(`transaction conflict (${message}): safe to retry`, code, { cause: err });
    }
    if (code === '23505') {
      return new UniqueViolationError(`unique constraint ${e.constraint ?? ''} refused the row`.replace('  ', ' '), code, { cause: err });
    }
    if (code.startsWith('08') || code === '57P01' || code === '57P03') {
      return new DatabaseConnectionError(`lost the database connection (${message})`, code, { cause: err });
    }
    // Server messages name objects and constraints, not parameter values (DETAIL may; it is left out).
    return new QueryError(message, code, { cause: err });
  }
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(code)) {
    return new DatabaseConnectionError(
      `cannot reach the database (${code}): check host and port in the database URL and that PostgreSQL is running and accepts TCP connections`,
      undefined,
      { cause: err },
    );
  }
  if (/SSL|TLS|certificate/i.test(message)) {
    return new DatabaseConnectionError(
      `TLS problem connecting to the database (${message}): check sslmode and sslrootcert`,
      undefined,
      { cause: err },
    );
  }
  if (/timeout exceeded when trying to connect|Connection terminated/i.test(message)) {
    return new DatabaseConnectionError(`cannot reach the database (${message})`, undefined, { cause: err });
  }
  return err;
}
