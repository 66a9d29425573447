import { ALL_ROWS, inScope } from './row-scope';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RekeyError } from '../../errors';
import type { Sql, SqlValue } from '../../ports/sql';
import { DatabaseError } from '../../ports/sql-errors';
import { chunkByBytes, estimateValueBytes, PageSizer } from '../sql/bounded-reads';
import { describeErrorRate, errorRateExceeded } from '../jobs/error-rate';
import { BatchLeaseLostError, BatchNotFoundError, InjectedFaultError, RegistryError } from '../errors';
import type { JobStatus } from '../jobs/job-status';
import {
  claimBatch,
  extendLease,
  failBatch,
  getBatch,
  getJob,
  jobFromRow,
  parseBatchId,
  transitionJob,
  type BatchRef,
  type ClaimedBatch,
} from '../store/job-store';
import type { ExecutorDeps, StoredValue } from '../ports';
import { findTable } from '../config/registry';
import { targetKeyFor } from '../values/formats';
import { TableStatements, toRowValues } from '../sql/statements';
import { TableShapeCache } from '../sql/table-shape';
import { mapLimit, transformRow, type RowPlan, type RowValues, type TransformContext } from '../values/transforms';
import { countValueErrors, type ValueErrorCounts } from '../values/value-error-kinds';

/**
 * Runs one batch of a job: the unit of work every runner shares (the local
 * job runner, the CLI's worker threads, the Lambda SQS worker).
 *
 * 1. lease the batch (conditional UPDATE; an expired lease may be taken over);
 * 2. read its rows by keyset range (in pages sized to the rows when the
 *    transport limits result size) and transform them in memory, outside any
 *    transaction;
 * 3. in ONE transaction: check the lease is still ours (fenced by worker and
 *    attempt number), write every changed row in ONE compare-and-swap UPDATE
 *    (chunked by bytes when the transport limits request size),
 *    re-read and retry once the rows an application changed meanwhile, record
 *    row errors, and update the batch's and the job's counters and status.
 *
 * A crash anywhere before the commit leaves nothing behind but the lease, so
 * the batch runs again from scratch; after the commit the batch is `done` and
 * a redelivery finds nothing to claim. Either way it counts once.
 */

export const DEFAULT_LEASE_MS = 5 * 60_000;
export const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_CRYPTO_CONCURRENCY = 16;

const PROCESS_WORKER = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
const defaultShapes = new TableShapeCache();

export interface BatchCounts {
  readonly done: number;
  readonly failed: number;
  readonly skipped: number;
  readonly conflicted: number;
}

export interface BatchResult {
  /**
   * - `done`: this call ran the batch;
   * - `already-done`: a previous delivery finished it (nothing changed, nothing counted);
   * - `leased`: another worker holds a live lease on it;
   * - `job-not-running`: the job is aborted, failed or finished: the batch is left as is;
   * - `exhausted`: the batch failed `maxAttempts` times.
   */
  readonly outcome: 'done' | 'already-done' | 'leased' | 'job-not-running' | 'exhausted';
  readonly jobId: string;
  readonly table: string;
  readonly seq: number;
  readonly counts: BatchCounts;
  /** Failed values of this run by kind, for the encryption / decryption error metrics (a row may fail in several columns). */
  readonly valueErrors?: ValueErrorCounts;
  /** The job's status after this batch (`aborted` when this batch crossed the error-rate threshold). */
  readonly jobStatus?: JobStatus;
}

const NO_COUNTS: BatchCounts = { done: 0, failed: 0, skipped: 0, conflicted: 0 };

export function workerName(deps: Pick<ExecutorDeps, 'worker'>): string {
  return deps.worker ?? PROCESS_WORKER;
}

/**
 * Claims and runs one batch by reference — `{table, seq}` or its batch id
 * `table#seq` — what a queue worker calls with the `{jobId, batchId}` of a
 * message. Safe to call twice for the same batch.
 */
export async function executeBatch(deps: ExecutorDeps, jobId: string, batch: BatchRef | string): Promise<BatchResult> {
  const ref = typeof batch === 'string' ? parseBatchId(batch) : batch;
  if (!ref) throw new BatchNotFoundError(jobId, String(batch), -1);
  const worker = workerName(deps);
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const claimed = await claimBatch(deps.sql, jobId, ref, worker, deps.leaseMs ?? DEFAULT_LEASE_MS, maxAttempts);
  if (!claimed) {
    const [batch, job] = await Promise.all([getBatch(deps.sql, jobId, ref), getJob(deps.sql, jobId)]);
    const base = { jobId, table: ref.table, seq: ref.seq, counts: NO_COUNTS, jobStatus: job.status };
    if (!batch) throw new BatchNotFoundError(jobId, ref.table, ref.seq);
    if (batch.status === 'done') return { ...base, outcome: 'already-done' };
    if (job.status !== 'running') return { ...base, outcome: 'job-not-running' };
    if (batch.status === 'failed') return { ...base, outcome: 'exhausted' };
    return { ...base, outcome: 'leased' };
  }
  return executeClaimedBatch(deps, claimed);
}

/**
 * Runs a batch this worker has just claimed. On an error other than an
 * injected crash, the batch is marked failed (claimable again while attempts
 * remain) and the error rethrown.
 */
export async function executeClaimedBatch(deps: ExecutorDeps, batch: ClaimedBatch): Promise<BatchResult> {
  const worker = workerName(deps);
  try {
    const result = await runClaimed(deps, batch, worker);
    await fault(deps, 'batch.committed', batch);
    return result;
  } catch (err) {
    // A simulated crash leaves its lease behind, exactly as a killed process would.
    if (!(err instanceof InjectedFaultError) && !(err instanceof BatchLeaseLostError)) {
      await failBatch(deps.sql, batch, worker, batchErrorText(err)).catch(() => undefined);
    }
    throw err;
  }
}

/** Longest error text kept with a failed batch (status and the state machine show it). */
const BATCH_ERROR_CHARS = 300;

/**
 * What a failed batch records: enough to act on (`QueryError 22001: value too
 * long for type character varying(64)`), nothing that can hold a value.
 * rekey's own errors never carry plaintext or key material (the database
 * adapters drop DETAIL and quoted input), so their message is kept; any
 * other error keeps only its name.
 */
export function batchErrorText(err: unknown): string {
  if (err instanceof DatabaseError) return clip(`${err.name} ${err.sqlState ?? err.code}: ${err.message}`);
  if (err instanceof RekeyError) return clip(`${err.name} ${err.code}: ${err.message}`);
  return err instanceof Error ? err.name : 'error';
}

function clip(text: string): string {
  return text.length > BATCH_ERROR_CHARS ? `${text.slice(0, BATCH_ERROR_CHARS - 1)}…` : text;
}

async function fault(
  deps: ExecutorDeps,
  point: string,
  batch: ClaimedBatch,
  rowIds?: readonly string[],
): Promise<void> {
  if (deps.faults) {
    await deps.faults(point, {
      jobId: batch.jobId,
      table: batch.table,
      seq: batch.seq,
      lo: batch.lo,
      hi: batch.hi,
      ...(rowIds ? { rowIds } : {}),
    });
  }
}

async function runClaimed(deps: ExecutorDeps, batch: ClaimedBatch, worker: string): Promise<BatchResult> {
  const { sql } = deps;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const table = findTable(deps.registry, batch.table);
  if (!table) {
    throw new RegistryError(
      [{ path: batch.table, message: 'the job names a table that is not in this registry' }],
      'registry vs. job',
    );
  }
  const shape = await (deps.shapes ?? defaultShapes).get(sql, table);
  const stmts = new TableStatements(table, shape, batch.mode);
  const ctx: TransformContext = {
    table,
    shape,
    sets: stmts.sets,
    mode: batch.mode,
    targetKeyId: targetKeyFor(table, batch.mode, { keyId: batch.targetKeyId, fernetKeyId: batch.fernetTargetKeyId }),
    crypto: deps.crypto,
    blindIndex: deps.blindIndex,
    scope: batch.scope,
  };
  const concurrency = deps.cryptoConcurrency ?? DEFAULT_CRYPTO_CONCURRENCY;
  // transformRow itself answers `skipped` for a row already in the target state.
  const plan = (rows: readonly RowValues[]): Promise<RowPlan[]> =>
    mapLimit(rows, concurrency, (r) => transformRow(r, ctx));
  await fault(deps, 'batch.claimed', batch);

  // Another tenant's rows in the range are not this job's: not transformed, written or counted.
  const scope = batch.scope ?? ALL_ROWS;
  const read = (await readBatchRows(sql, stmts, batch)).filter((r) => inScope(r.tenant, scope));
  await fault(deps, 'batch.read', batch);
  const plans = await plan(read);
  await fault(deps, 'batch.transformed', batch);
  if (!(await extendLease(sql, batch, worker, leaseMs)))
    throw new BatchLeaseLostError(batch.jobId, batch.table, batch.seq);

  return sql.transaction(async (tx) => {
    // Fence: the lease must still be ours (same worker, same attempt). Locks the batch row until commit,
    // so a worker that took over an expired lease cannot finish the same batch concurrently.
    const own = await tx.query(
      `SELECT 1 FROM rekey_job_batches WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3
          AND status = 'running' AND worker = $4 AND attempts = $5 FOR UPDATE`,
      [batch.jobId, batch.table, batch.seq, worker, batch.attempts],
    );
    if (own.rowCount === 0) throw new BatchLeaseLostError(batch.jobId, batch.table, batch.seq);

    const final = new Map<string, RowPlan>();
    const byId = new Map(read.map((r) => [r.id, r]));
    for (const p of plans) final.set(p.id, p);

    const lost = await compareAndSwap(tx, stmts, plans, byId);
    await fault(deps, 'batch.written', batch);
    let conflicted = 0;
    if (lost.length > 0) {
      // Re-read the rows an application changed since we read them, transform them again, and retry once.
      const reread = await rereadRows(tx, stmts, lost, read.length);
      const seen = new Set(reread.map((r) => r.id));
      for (const id of lost) if (!seen.has(id)) final.delete(id); // deleted meanwhile: nothing left to do
      const replans = await plan(reread);
      await fault(
        deps,
        'batch.retransformed',
        batch,
        reread.map((r) => r.id),
      );
      for (const p of replans) final.set(p.id, p);
      const lostAgain = new Set(await compareAndSwap(tx, stmts, replans, new Map(reread.map((r) => [r.id, r]))));
      conflicted = lostAgain.size;
      for (const id of lostAgain) final.delete(id); // left for the next pass; never overwritten
    }

    const counts = { done: 0, failed: 0, skipped: 0, conflicted };
    const errors: { row: string; column: string; code: string; message: string }[] = [];
    for (const p of final.values()) {
      if (p.outcome === 'failed') {
        counts.failed++;
        for (const e of p.errors) errors.push({ row: p.id, ...e });
      } else if (p.outcome === 'changed') counts.done++;
      else counts.skipped++;
    }

    if (errors.length > 0) {
      await tx.query(
        `INSERT INTO rekey_row_errors (job_id, table_name, row_id, column_name, code, message)
         SELECT $1::uuid, $2, r, c, k, m FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS e(r, c, k, m)
         ON CONFLICT (job_id, table_name, row_id, column_name) DO UPDATE SET code = EXCLUDED.code, message = EXCLUDED.message, at = now()`,
        [
          batch.jobId,
          batch.table,
          errors.map((e) => e.row),
          errors.map((e) => e.column),
          errors.map((e) => e.code),
          errors.map((e) => e.message),
        ],
      );
    }
    await tx.query(
      `UPDATE rekey_job_batches SET status = 'done', lease_until = NULL, finished_at = now(), updated_at = now(),
              rows_done = $4, rows_failed = $5, rows_skipped = $6, rows_conflicted = $7
        WHERE job_id = $1::uuid AND table_name = $2 AND seq = $3`,
      [batch.jobId, batch.table, batch.seq, counts.done, counts.failed, counts.skipped, counts.conflicted],
    );
    const { rows } = await tx.query<Record<string, unknown>>(
      `UPDATE rekey_jobs SET rows_done = rows_done + $2, rows_failed = rows_failed + $3, rows_skipped = rows_skipped + $4,
              rows_conflicted = rows_conflicted + $5, batches_done = batches_done + 1, heartbeat_at = now()
        WHERE id = $1::uuid RETURNING *`,
      [batch.jobId, counts.done, counts.failed, counts.skipped, counts.conflicted],
    );
    let job = jobFromRow(rows[0]!);
    if (job.status === 'running' && errorRateExceeded(job.counters, job.maxErrorRate, job.abortMinRows)) {
      const reason = describeErrorRate(job.counters, job.maxErrorRate);
      job = await transitionJob(tx, job.id, ['running'], 'aborted', { error: reason, finished: true });
      await deps.audit?.record(tx, {
        actor: worker,
        action: 'job.aborted',
        subject: `job:${job.id}`,
        details: { reason: 'max-error-rate', rowsFailed: job.counters.rowsFailed, maxErrorRate: job.maxErrorRate },
      });
    }
    await fault(deps, 'batch.before-commit', batch);
    const valueErrors = countValueErrors(errors, batch.mode);
    return {
      outcome: 'done' as const,
      jobId: batch.jobId,
      table: batch.table,
      seq: batch.seq,
      counts,
      valueErrors,
      jobStatus: job.status,
    };
  });
}

/** Rows per page when a transport limit makes the executor page a batch's read; the sizer shrinks it to the rows' width. */
const LIMITED_READ_PAGE_ROWS = 2000;

/**
 * The batch's rows in id order: one SELECT, or with a transport response
 * limit (the Data API's 1 MiB), pages sized to the rows' width.
 */
async function readBatchRows(sql: Sql, stmts: TableStatements, batch: ClaimedBatch): Promise<RowValues[]> {
  if (!sql.limits) {
    const select = stmts.selectRange(batch);
    return (await sql.query<Record<string, unknown>>(select.text, select.params(batch.targetKeyId))).rows.map((r) =>
      toRowValues(r, stmts.sets.read),
    );
  }
  const sizer = new PageSizer(sql.limits, LIMITED_READ_PAGE_ROWS);
  const rows: RowValues[] = [];
  let cursor: string | null = null;
  for (;;) {
    const after: string | null = cursor;
    const page = await sizer.read((limit) => {
      const select = stmts.selectRangePage(batch, after, limit);
      return sql.query<Record<string, unknown>>(select.text, select.params(batch.targetKeyId));
    });
    for (const r of page.rows) rows.push(toRowValues(r, stmts.sets.read));
    if (page.rows.length < page.limit) return rows;
    cursor = rows[rows.length - 1]!.id;
  }
}

/** Re-reads rows by id after a lost compare-and-swap, in pages when the transport limits results. */
async function rereadRows(
  tx: Sql,
  stmts: TableStatements,
  ids: readonly string[],
  batchRows: number,
): Promise<RowValues[]> {
  const sizer = new PageSizer(tx.limits, Math.max(1, Math.min(ids.length, batchRows)));
  const rows: RowValues[] = [];
  for (let start = 0; start < ids.length;) {
    const page = await sizer.read((limit) =>
      tx.query<Record<string, unknown>>(stmts.selectByIds().text, [ids.slice(start, start + limit)]),
    );
    for (const r of page.rows) rows.push(toRowValues(r, stmts.sets.read));
    start += page.limit;
  }
  return rows;
}

/**
 * Writes every changed row of `plans` guarded by the values read — one
 * UPDATE, or with a transport request limit as many as the rows' bytes need,
 * all in the caller's transaction; returns the ids of the rows that were NOT
 * written (changed under us).
 */
async function compareAndSwap(
  tx: Sql,
  stmts: TableStatements,
  plans: readonly RowPlan[],
  read: ReadonlyMap<string, RowValues>,
): Promise<string[]> {
  const changed = plans.filter((p) => p.changed);
  if (changed.length === 0) return [];
  const { write, guard } = stmts.sets;
  // Columns no row changes are only compared, not rewritten.
  const written = write.filter((c) => changed.some((p) => p.next[c] !== read.get(p.id)!.values[c]));
  const guarded = [...write.filter((c) => !written.includes(c)), ...guard];
  const text = stmts.casUpdate(written, guarded).text;
  const rowBytes = (p: RowPlan): number => {
    const before = read.get(p.id)!.values;
    let bytes = estimateValueBytes(p.id);
    for (const c of written) bytes += estimateValueBytes(before[c] ?? null) + estimateValueBytes(p.next[c] ?? null);
    for (const c of guarded) bytes += estimateValueBytes(before[c] ?? null);
    return bytes;
  };
  const lost: string[] = [];
  for (const chunk of chunkByBytes(changed, rowBytes, tx.limits)) {
    const params: SqlValue[] = [chunk.map((p) => p.id)];
    const column = (pick: (p: RowPlan) => StoredValue | null): SqlValue => chunk.map(pick) as SqlValue;
    for (const c of written)
      params.push(
        column((p) => read.get(p.id)!.values[c] ?? null),
        column((p) => p.next[c] ?? null),
      );
    for (const c of guarded) params.push(column((p) => read.get(p.id)!.values[c] ?? null));
    const { rows } = await tx.query<{ id: string }>(text, params);
    const ok = new Set(rows.map((r) => r.id));
    for (const p of chunk) if (!ok.has(p.id)) lost.push(p.id);
  }
  return lost;
}
