import { ALL_ROWS, inScope } from './row-scope';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Sql } from '../../ports/sql';
import { batchErrorText } from './batch-error-text';
import { describeErrorRate, errorRateExceeded } from '../jobs/error-rate';
import { BatchLeaseLostError, BatchNotFoundError, InjectedFaultError, RegistryError } from '../errors';
import type { JobStatus } from '../jobs/job-status';
import {
  claimBatch,
  completeBatch,
  extendLease,
  failBatch,
  holdsLease,
  type BatchCounts,
  type ClaimedBatch,
} from '../store/batch-leases';
import { getBatch } from '../store/batches-table';
import { addBatchCounts, getJob, transitionJob, type JobRecord } from '../store/jobs-table';
import { recordRowErrors, type NewRowError } from '../store/row-errors-table';
import { parseBatchId, type BatchRef } from '../store/batch-ids';
import type { ExecutorDeps } from '../ports';
import { findTable } from '../config/registry';
import { targetKeyFor } from '../values/formats';
import { TableStatements } from '../sql/statements';
import { TableShapeCache } from '../sql/table-shape';
import { mapLimit } from './map-limit';
import { compareAndSwap, readBatchRows, rereadRows } from './batch-rows';
import { transformRow, type RowPlan, type RowValues, type TransformContext } from '../values/transforms';
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
  const work = await prepareBatch(deps, batch);
  await fault(deps, 'batch.claimed', batch);
  const { read, plans } = await readAndTransform(deps, work, batch);
  if (!(await extendLease(deps.sql, batch, worker, deps.leaseMs ?? DEFAULT_LEASE_MS)))
    throw new BatchLeaseLostError(batch.jobId, batch.table, batch.seq);

  return deps.sql.transaction(async (tx) => {
    if (!(await holdsLease(tx, batch, worker))) throw new BatchLeaseLostError(batch.jobId, batch.table, batch.seq);
    const { final, conflicted } = await writeRows(deps, tx, work, batch, read, plans);
    const { counts, errors } = tally(final.values(), conflicted);
    await recordRowErrors(tx, batch.jobId, batch.table, errors);
    await completeBatch(tx, batch, counts);
    const job = await countIntoJob(deps, tx, batch, counts, worker);
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

/** What a batch's phases share: its table's statements and the transform of a list of rows. */
interface BatchWork {
  readonly stmts: TableStatements;
  readonly plan: (rows: readonly RowValues[]) => Promise<RowPlan[]>;
}

/** The batch's table as this registry and the database have it, and how its rows are transformed. */
async function prepareBatch(deps: ExecutorDeps, batch: ClaimedBatch): Promise<BatchWork> {
  const table = findTable(deps.registry, batch.table);
  if (!table) {
    throw new RegistryError(
      [{ path: batch.table, message: 'the job names a table that is not in this registry' }],
      'registry vs. job',
    );
  }
  const shape = await (deps.shapes ?? defaultShapes).get(deps.sql, table);
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
  return { stmts, plan: (rows) => mapLimit(rows, concurrency, (r) => transformRow(r, ctx)) };
}

/** Reads the batch's rows of the job's scope and transforms them in memory, outside any transaction. */
async function readAndTransform(
  deps: ExecutorDeps,
  work: BatchWork,
  batch: ClaimedBatch,
): Promise<{ read: RowValues[]; plans: RowPlan[] }> {
  // Another tenant's rows in the range are not this job's: not transformed, written or counted.
  const scope = batch.scope ?? ALL_ROWS;
  const read = (await readBatchRows(deps.sql, work.stmts, batch)).filter((r) => inScope(r.tenant, scope));
  await fault(deps, 'batch.read', batch);
  const plans = await work.plan(read);
  await fault(deps, 'batch.transformed', batch);
  return { read, plans };
}

/**
 * Writes the changed rows guarded by the values read. The rows an application
 * changed since are re-read, transformed again and retried once; those lost
 * again are left for the next pass (never overwritten) and counted as
 * conflicted. Returns each row's final plan.
 */
async function writeRows(
  deps: ExecutorDeps,
  tx: Sql,
  work: BatchWork,
  batch: ClaimedBatch,
  read: readonly RowValues[],
  plans: readonly RowPlan[],
): Promise<{ final: Map<string, RowPlan>; conflicted: number }> {
  const final = new Map<string, RowPlan>();
  for (const p of plans) final.set(p.id, p);
  const lost = await compareAndSwap(tx, work.stmts, plans, new Map(read.map((r) => [r.id, r])));
  await fault(deps, 'batch.written', batch);
  if (lost.length === 0) return { final, conflicted: 0 };

  const reread = await rereadRows(tx, work.stmts, lost, read.length);
  const seen = new Set(reread.map((r) => r.id));
  for (const id of lost) if (!seen.has(id)) final.delete(id); // deleted meanwhile: nothing left to do
  const replans = await work.plan(reread);
  await fault(
    deps,
    'batch.retransformed',
    batch,
    reread.map((r) => r.id),
  );
  for (const p of replans) final.set(p.id, p);
  const lostAgain = new Set(await compareAndSwap(tx, work.stmts, replans, new Map(reread.map((r) => [r.id, r]))));
  for (const id of lostAgain) final.delete(id); // left for the next pass; never overwritten
  return { final, conflicted: lostAgain.size };
}

/** The batch's rows by outcome, and the column errors of its failed rows. */
function tally(plans: Iterable<RowPlan>, conflicted: number): { counts: BatchCounts; errors: NewRowError[] } {
  const counts = { done: 0, failed: 0, skipped: 0, conflicted };
  const errors: NewRowError[] = [];
  for (const p of plans) {
    if (p.outcome === 'failed') {
      counts.failed++;
      for (const e of p.errors) errors.push({ row: p.id, ...e });
    } else if (p.outcome === 'changed') counts.done++;
    else counts.skipped++;
  }
  return { counts, errors };
}

/** Adds the batch to its job's counters, and aborts the job when this batch crossed its maximum error rate. */
async function countIntoJob(
  deps: ExecutorDeps,
  tx: Sql,
  batch: ClaimedBatch,
  counts: BatchCounts,
  worker: string,
): Promise<JobRecord> {
  const job = await addBatchCounts(tx, batch.jobId, counts);
  if (job.status !== 'running' || !errorRateExceeded(job.counters, job.maxErrorRate, job.abortMinRows)) return job;
  const reason = describeErrorRate(job.counters, job.maxErrorRate);
  const aborted = await transitionJob(tx, job.id, ['running'], 'aborted', { error: reason, finished: true });
  await deps.audit?.record(tx, {
    actor: worker,
    action: 'job.aborted',
    subject: `job:${aborted.id}`,
    details: { reason: 'max-error-rate', rowsFailed: aborted.counters.rowsFailed, maxErrorRate: aborted.maxErrorRate },
  });
  return aborted;
}
