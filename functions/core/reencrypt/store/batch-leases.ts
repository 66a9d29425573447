import type { Sql } from '../../ports/sql';
import type { RowScope } from '../batches/row-scope';
import type { Mode } from '../values/modes';
import type { BatchRef } from './batch-ids';
import { batchFromRow, type BatchRecord } from './batches-table';
import { targetAndScopeFromOptions, type Row } from './row-values';

/**
 * Leases on `rekey_job_batches` rows: a worker claims a batch (conditional on
 * its status, attempts and lease, so two workers never hold one), extends the
 * lease while it works, and marks it failed when it gives up. A lease is
 * matched by worker and attempt number, so a worker that lost its lease
 * cannot change the batch its successor holds.
 */

/** A batch may be claimed when pending, failed with attempts left (`$maxParam`), or running under an expired lease. */
function claimable(maxParam: number): string {
  return `(b.status = 'pending' OR (b.status = 'failed' AND b.attempts < $${maxParam}) OR (b.status = 'running' AND b.lease_until < now()))`;
}

/** A batch now leased to `worker`, with its job's mode, target and row scope. */
export interface ClaimedBatch extends BatchRecord {
  readonly mode: Mode;
  readonly targetKeyId: string;
  /** The job's Fernet target (formats.ts), when it has Fernet tables. */
  readonly fernetTargetKeyId?: string;
  /** The rows of the job, by tenant (row-scope.ts). @default every row */
  readonly scope?: RowScope;
}

function claimedFromRow(r: Row): ClaimedBatch {
  return {
    ...batchFromRow(r),
    mode: r['mode'] as Mode,
    targetKeyId: String(r['target_key_id']),
    ...targetAndScopeFromOptions(r['job_options']),
  };
}

/**
 * Leases one given batch if its job is running and the batch is pending,
 * failed (with attempts left) or running with an expired lease.
 * Undefined when it is not claimable (done, leased by another worker, job not running).
 */
export async function claimBatch(
  sql: Sql,
  jobId: string,
  ref: BatchRef,
  worker: string,
  leaseMs: number,
  maxAttempts: number,
): Promise<ClaimedBatch | undefined> {
  const { rows } = await sql.query<Row>(
    `UPDATE rekey_job_batches b
        SET status = 'running', attempts = b.attempts + 1, worker = $4, error = NULL,
            lease_until = now() + $5 * interval '1 millisecond', started_at = COALESCE(b.started_at, now()), updated_at = now()
       FROM rekey_jobs j
      WHERE b.job_id = $1::uuid AND b.table_name = $2 AND b.seq = $3 AND j.id = b.job_id AND j.status = 'running'
        AND ${claimable(6)}
      RETURNING b.*, j.mode, j.target_key_id, j.options AS job_options`,
    [jobId, ref.table, ref.seq, worker, leaseMs, maxAttempts],
  );
  return rows[0] ? claimedFromRow(rows[0]) : undefined;
}

/** Leases the next claimable batch of a running job (SKIP LOCKED: workers never wait on each other). */
export async function claimNextBatch(
  sql: Sql,
  jobId: string,
  worker: string,
  leaseMs: number,
  maxAttempts: number,
): Promise<ClaimedBatch | undefined> {
  const { rows } = await sql.query<Row>(
    `WITH next AS (
       SELECT b.job_id, b.table_name, b.seq FROM rekey_job_batches b
        WHERE b.job_id = $1::uuid AND ${claimable(4)}
        ORDER BY b.pass, b.seq, b.table_name
        LIMIT 1 FOR UPDATE SKIP LOCKED)
     UPDATE rekey_job_batches b
        SET status = 'running', attempts = b.attempts + 1, worker = $2, error = NULL,
            lease_until = now() + $3 * interval '1 millisecond', started_at = COALESCE(b.started_at, now()), updated_at = now()
       FROM next, rekey_jobs j
      WHERE b.job_id = next.job_id AND b.table_name = next.table_name AND b.seq = next.seq
        AND j.id = b.job_id AND j.status = 'running'
      RETURNING b.*, j.mode, j.target_key_id, j.options AS job_options`,
    [jobId, worker, leaseMs, maxAttempts],
  );
  return rows[0] ? claimedFromRow(rows[0]) : undefined;
}

/** Extends a lease this worker still holds; false when it lost it. */
export async function extendLease(sql: Sql, batch: ClaimedBatch, worker: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await sql.query(
    `UPDATE rekey_job_batches SET lease_until = now() + $6 * interval '1 millisecond', updated_at = now()
      WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3 AND status = 'running' AND worker = $4 AND attempts = $5`,
    [batch.jobId, batch.table, batch.seq, worker, batch.attempts, leaseMs],
  );
  return rowCount > 0;
}

/** Marks a batch this worker holds as failed (it can be claimed again while attempts remain). */
export async function failBatch(sql: Sql, batch: ClaimedBatch, worker: string, error: string): Promise<void> {
  await sql.query(
    `UPDATE rekey_job_batches SET status = 'failed', error = $6, lease_until = NULL, updated_at = now()
      WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3 AND status = 'running' AND worker = $4 AND attempts = $5`,
    [batch.jobId, batch.table, batch.seq, worker, batch.attempts, error],
  );
}

/**
 * The fence of a batch's commit: true when the lease is still this worker's
 * (same worker, same attempt). Locks the batch row until the transaction
 * ends, so a worker that took over an expired lease cannot finish the same
 * batch concurrently.
 */
export async function holdsLease(tx: Sql, batch: ClaimedBatch, worker: string): Promise<boolean> {
  const own = await tx.query(
    `SELECT 1 FROM rekey_job_batches WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3
        AND status = 'running' AND worker = $4 AND attempts = $5 FOR UPDATE`,
    [batch.jobId, batch.table, batch.seq, worker, batch.attempts],
  );
  return own.rowCount > 0;
}

/** Rows of one batch run by outcome (kept on the batch and added to the job's counters). */
export interface BatchCounts {
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
  readonly conflicted: number;
}

/** Marks a batch done with its row counts, in the transaction that wrote its rows. */
export async function completeBatch(tx: Sql, batch: ClaimedBatch, counts: BatchCounts): Promise<void> {
  await tx.query(
    `UPDATE rekey_job_batches SET status = 'done', lease_until = NULL, finished_at = now(), updated_at = now(),
            rows_done = $4, rows_failed = $5, rows_skipped = $6, rows_conflicted = $7
      WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3`,
    [batch.jobId, batch.table, batch.seq, counts.done, counts.failed, counts.skipped, counts.conflicted],
  );
}
