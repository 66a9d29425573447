import pg from 'pg';
import type { Sql, SqlPool, SqlResult, SqlValue } from '../../ports/sql';
import { pgConnectionOptions } from './connection';
import { mapPgError } from './errors';

export {
  DatabaseUrlError,
  describeConnection,
  isLoopback,
  type ConnectionDescription,
  type SslMode,
} from './connection';
export { mapPgError } from './errors';

/*
 * Result types: int8 (count(*), bigserial ids, sums) stays a string — a JS
 * number would silently round past 2^53; numeric is a string too (pg's
 * default). bytea arrives as a Buffer, bytea[] as Buffer[], text[] as
 * string[], timestamptz as a Date, json/jsonb parsed. Parameters: Buffer →
 * bytea, string[] / Buffer[] → arrays (cast in SQL when the type is not
 * inferable: `$1::bytea[]`), bigint → its decimal text, plain object → JSON.
 */
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
 * failure rolls back only its own part (the outer transaction may catch it
 * and go on). Calls on one transaction handle are sequential: do not run two
 * nested transaction() calls of the same handle concurrently. Errors are the
 * port's DatabaseError family (functions/core/ports/sql-errors.ts); a bad URL
 * or unreadable certificate throws DatabaseUrlError here, before connecting.
 */
export function createPgSql(options: PgSqlOptions): SqlPool {
  const connection = pgConnectionOptions(options.connectionString, options.env);
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
          throw mapPgError(err);
        });
        let broken = false;
        // The pool listens for errors only on idle clients. A checked-out one
        // whose server goes away between two statements (failover, admin
        // kill) emits 'error' with nobody listening, which would crash the
        // process; here it only marks the client broken, and the next
        // statement rejects with a connection error the caller can retry.
        const onLost = (): void => {
          broken = true;
        };
        c.on('error', onLost);
        try {
          await run(c, 'BEGIN');
          const result = await fn(onClient(c, 1));
          await run(c, 'COMMIT');
          return result;
        } catch (err) {
          if (!broken) {
            await c.query('ROLLBACK').catch(() => {
              broken = true;
            });
          }
          throw err;
        } finally {
          c.removeListener('error', onLost);
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
        // If this fails too the outer transaction is aborted anyway: report the error that caused it.
        await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => undefined);
        throw err;
      }
    },
  });

  const root = onClient(pool, 0);
  let closing: Promise<void> | undefined;
  return { ...root, close: () => (closing ??= pool.end()) };
}

async function run<Row>(
  client: pg.PoolClient | pg.Pool,
  text: string,
  params?: readonly SqlValue[],
): Promise<SqlResult<Row>> {
  try {
    const result = await client.query(text, params as unknown[] | undefined);
    return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
  } catch (err) {
    throw mapPgError(err);
  }
}
