import type { Sql } from '../../ports/sql';
import { date, type Row } from './row-values';

/** Reads and writes `rekey_row_errors` (migration 0002): the rows a job could not move, with the reason (never a value). */

export interface RowErrorRecord {
  readonly table: string;
  readonly rowId: string;
  readonly column: string;
  readonly code: string;
  readonly message: string;
  readonly at: Date;
}

export async function listRowErrors(sql: Sql, jobId: string, limit = 1000): Promise<RowErrorRecord[]> {
  const { rows } = await sql.query<Row>(
    `SELECT table_name, row_id, column_name, code, message, at FROM rekey_row_errors
      WHERE job_id = $1::uuid ORDER BY table_name, row_id, column_name LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({
    table: String(r['table_name']),
    rowId: String(r['row_id']),
    column: String(r['column_name']),
    code: String(r['code']),
    message: String(r['message']),
    at: date(r['at']) ?? new Date(0),
  }));
}

/** A column of a row that failed, as a batch records it (the code and a message that never holds a value). */
export interface NewRowError {
  readonly row: string;
  readonly column: string;
  readonly code: string;
  readonly message: string;
}

/** Records a batch's row errors; a row failing again replaces its earlier error (one per row and column). */
export async function recordRowErrors(
  tx: Sql,
  jobId: string,
  table: string,
  errors: readonly NewRowError[],
): Promise<void> {
  if (errors.length === 0) return;
  await tx.query(
    `INSERT INTO rekey_row_errors (job_id, table_name, row_id, column_name, code, message)
     SELECT $1::uuid, $2, r, c, k, m FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS e(r, c, k, m)
     ON CONFLICT (job_id, table_name, row_id, column_name) DO UPDATE SET code = EXCLUDED.code, message = EXCLUDED.message, at = now()`,
    [
      jobId,
      table,
      errors.map((e) => e.row),
      errors.map((e) => e.column),
      errors.map((e) => e.code),
      errors.map((e) => e.message),
    ],
  );
}
