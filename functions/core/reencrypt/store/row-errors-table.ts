import type { Sql } from '../../ports/sql';
import { date, type Row } from './row-values';

/** Reads `rekey_row_errors` (migration 0002): the rows a job could not move, with the reason (never a value). */

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
