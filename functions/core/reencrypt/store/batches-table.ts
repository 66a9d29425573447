import type { Sql } from '../../ports/sql';
import type { BatchStatus } from '../jobs/job-status';
import type { KeyRange } from '../sql/statements';
import type { IdType } from '../sql/table-shape';
import type { BatchRef } from './batch-ids';
import { date, num, type Row } from './row-values';

/**
 * Reads and writes `rekey_job_batches` (migration 0002): planning inserts
 * them, the pipeline's enqueue step marks them sent, status and redrive read
 * and reset them. Leasing one to a worker is batch-leases.ts.
 */

export interface BatchRecord extends BatchRef, KeyRange {
  readonly jobId: string;
  readonly pass: number;
  readonly idType: IdType;
  readonly rowsPlanned: number;
  readonly status: BatchStatus;
  readonly attempts: number;
  readonly worker: string | null;
  readonly leaseUntil: Date | null;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly rowsSkipped: number;
  readonly rowsConflicted: number;
  readonly error: string | null;
  readonly enqueuedAt: Date | null;
}

export function batchFromRow(r: Row): BatchRecord {
  return {
    jobId: String(r['job_id']),
    table: String(r['table_name']),
    seq: num(r['seq']),
    pass: num(r['pass']),
    lo: (r['lo'] as string | null) ?? null,
    hi: (r['hi'] as string | null) ?? null,
    idType: r['id_type'] as IdType,
    rowsPlanned: num(r['rows_planned']),
    status: r['status'] as BatchStatus,
    attempts: num(r['attempts']),
    worker: (r['worker'] as string | null) ?? null,
    leaseUntil: date(r['lease_until']),
    rowsDone: num(r['rows_done']),
    rowsFailed: num(r['rows_failed']),
    rowsSkipped: num(r['rows_skipped']),
    rowsConflicted: num(r['rows_conflicted']),
    error: (r['error'] as string | null) ?? null,
    enqueuedAt: date(r['enqueued_at']),
  };
}

export async function deleteBatches(sql: Sql, jobId: string): Promise<void> {
  await sql.query('DELETE FROM rekey_job_batches WHERE job_id = $1::uuid', [jobId]);
}

/** Inserts the keyset ranges of one table as batches `seqStart..`, in one statement per 5,000 ranges. */
export async function insertBatches(
  sql: Sql,
  jobId: string,
  table: string,
  idType: IdType,
  ranges: readonly (KeyRange & { readonly rows: number })[],
  pass: number,
  seqStart: number,
): Promise<void> {
  const chunk = 5000;
  for (let i = 0; i < ranges.length; i += chunk) {
    const part = ranges.slice(i, i + chunk);
    await sql.query(
      `INSERT INTO rekey_job_batches (job_id, table_name, seq, pass, lo, hi, id_type, rows_planned)
       SELECT $1::uuid, $2, $3::int + o - 1, $4, lo, hi, $5, n
         FROM unnest($6::text[], $7::text[], $8::int[]) WITH ORDINALITY AS r(lo, hi, n, o)`,
      [
        jobId,
        table,
        seqStart + i,
        pass,
        idType,
        part.map((r) => r.lo),
        part.map((r) => r.hi),
        part.map((r) => String(r.rows)),
      ],
    );
  }
  await sql.query('UPDATE rekey_jobs SET batches_total = batches_total + $2 WHERE id = $1::uuid', [
    jobId,
    ranges.length,
  ]);
}

export async function getBatch(sql: Sql, jobId: string, ref: BatchRef): Promise<BatchRecord | undefined> {
  const { rows } = await sql.query<Row>(
    'SELECT * FROM rekey_job_batches WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3',
    [jobId, ref.table, ref.seq],
  );
  return rows[0] ? batchFromRow(rows[0]) : undefined;
}

export async function listBatches(sql: Sql, jobId: string): Promise<BatchRecord[]> {
  const { rows } = await sql.query<Row>(
    'SELECT * FROM rekey_job_batches WHERE job_id = $1::uuid ORDER BY pass, table_name, seq',
    [jobId],
  );
  return rows.map(batchFromRow);
}

/** Number of batches of a job in each status, plus how many running ones hold a live lease. */
export async function batchStatusCounts(
  sql: Sql,
  jobId: string,
  maxAttempts: number,
): Promise<Record<BatchStatus, number> & { leased: number; retryable: number; nextLeaseExpiryMs: number | null }> {
  const { rows } = await sql.query<Row>(
    `SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
            count(*) FILTER (WHERE status = 'running') AS running,
            count(*) FILTER (WHERE status = 'done') AS done,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            count(*) FILTER (WHERE status = 'running' AND lease_until >= now()) AS leased,
            count(*) FILTER (WHERE status = 'failed' AND attempts < $2) AS retryable,
            GREATEST(0, EXTRACT(EPOCH FROM (min(lease_until) FILTER (WHERE status = 'running') - now())) * 1000) AS next_expiry
       FROM rekey_job_batches WHERE job_id = $1::uuid`,
    [jobId, maxAttempts],
  );
  const r = rows[0] ?? {};
  return {
    pending: num(r['pending']),
    running: num(r['running']),
    done: num(r['done']),
    failed: num(r['failed']),
    leased: num(r['leased']),
    retryable: num(r['retryable']),
    nextLeaseExpiryMs: r['next_expiry'] === null || r['next_expiry'] === undefined ? null : num(r['next_expiry']),
  };
}

/** Gives failed batches their attempts back (resuming a failed job once its cause is fixed). */
export async function resetFailedBatches(sql: Sql, jobId: string): Promise<number> {
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches SET attempts = 0, updated_at = now() WHERE job_id = $1::uuid AND status = 'failed'`,
    [jobId],
  );
  return rowCount;
}

/** Up to `limit` batches of a running job not yet sent to the queue, in claim order. */
export async function batchesToEnqueue(sql: Sql, jobId: string, limit: number): Promise<BatchRef[]> {
  const { rows } = await sql.query<Row>(
    `SELECT table_name, seq FROM rekey_job_batches
      WHERE job_id = $1::uuid AND enqueued_at IS NULL AND status = 'pending'
      ORDER BY pass, seq, table_name LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({ table: String(r['table_name']), seq: num(r['seq']) }));
}

/** Records that these batches were sent (after SendMessage succeeded: a crash in between resends, which is harmless). */
export async function markBatchesEnqueued(sql: Sql, jobId: string, refs: readonly BatchRef[]): Promise<number> {
  if (refs.length === 0) return 0;
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches b SET enqueued_at = COALESCE(b.enqueued_at, now())
       FROM unnest($2::text[], $3::int[]) AS r(t, s)
      WHERE b.job_id = $1::uuid AND b.table_name = r.t AND b.seq = r.s`,
    [jobId, refs.map((r) => r.table), refs.map((r) => String(r.seq))],
  );
  return rowCount;
}

/** Batches of a job not yet sent to the queue. */
export async function countBatchesToEnqueue(sql: Sql, jobId: string): Promise<number> {
  const { rows } = await sql.query<Row>(
    `SELECT count(*) AS n FROM rekey_job_batches WHERE job_id = $1::uuid AND enqueued_at IS NULL AND status = 'pending'`,
    [jobId],
  );
  return num(rows[0]?.['n']);
}
