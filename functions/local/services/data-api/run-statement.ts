import type pg from 'pg';
import { DataApiFault } from './faults';

/** The error type SQL errors are answered with: the service's current one, or the older BadRequestException. */
export type SqlErrorType = 'DatabaseErrorException' | 'BadRequestException';

/**
 * Runs one statement as the service does (extended protocol: one statement
 * per call, rows as arrays of PostgreSQL's text output) and answers a SQL
 * error as the service words it: PostgreSQL's message, Detail line and
 * `; SQLState: xxxxx`; statement_timeout as StatementTimeoutException.
 */
export async function runStatement(
  client: pg.PoolClient,
  text: string,
  values: unknown[],
  sqlErrorType: SqlErrorType,
): Promise<pg.QueryResult> {
  try {
    return await client.query({ text, values, queryMode: 'extended', rowMode: 'array' } as pg.QueryArrayConfig);
  } catch (err) {
    const e = err as { message?: string; code?: string; detail?: string; severity?: string };
    if (!e.severity) throw err;
    // 57014 from statement_timeout: the service's own timeout, not a SQL error.
    if (e.code === '57014' && /statement timeout/.test(e.message ?? ''))
      throw new DataApiFault('StatementTimeoutException', 'Request timed out', 400);
    const detail = e.detail ? `\n  Detail: ${e.detail}` : '';
    throw new DataApiFault(sqlErrorType, `${e.severity}: ${e.message}${detail}; SQLState: ${e.code ?? 'XX000'}`);
  }
}
