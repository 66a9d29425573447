import { workerName, DEFAULT_MAX_ATTEMPTS } from './batch-executor';
import type { EngineDeps } from './engine-deps';
import { describeErrorRate, errorRateExceeded } from './error-rate';
import { batchStatusCounts, getJob, transitionJob, type JobRecord } from './job-store';
import { tableKey } from './registry';
import { retireVerifiedKeys, type RetireResult } from './retire';
import { verify, type VerifyReport } from './verify';

/**
 * The steps after the batches, as functions any driver can call: the local
 * runner, and the state machine's progress loop and Finalize task on AWS.
 *
 * settleBatchPhase: once no batch is left to run, the job goes to
 *   `verifying`, or `aborted` (error rate above the maximum, judged on every
 *   attempted row), or `failed` (batches out of attempts).
 * finalizeJob: verify, retire the rotating keys a verify of every table finds
 *   empty, then `completed` or `completed_with_errors`.
 */

export interface BatchPhaseState {
  readonly job: JobRecord;
  /** True when the batch phase is over (the job is no longer `running`). */
  readonly settled: boolean;
  /** Batches still to run or running (when not settled). */
  readonly remaining: { readonly pending: number; readonly running: number; readonly retryable: number };
  /** Milliseconds until the first live lease expires, when batches are running. */
  readonly nextLeaseExpiryMs: number | null;
}

export async function settleBatchPhase(deps: EngineDeps, jobId: string): Promise<BatchPhaseState> {
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  let job = await getJob(deps.sql, jobId);
  const none = { pending: 0, running: 0, retryable: 0 };
  if (job.status !== 'running') return { job, settled: true, remaining: none, nextLeaseExpiryMs: null };
  const counts = await batchStatusCounts(deps.sql, jobId, maxAttempts);
  const remaining = { pending: counts.pending, running: counts.running, retryable: counts.retryable };
  if (counts.pending + counts.running + counts.retryable > 0) {
    return { job, settled: false, remaining, nextLeaseExpiryMs: counts.nextLeaseExpiryMs };
  }
  const actor = workerName(deps);
  if (counts.failed > 0) {
    job = await deps.sql.transaction(async (tx) => {
      const failed = await transitionJob(tx, jobId, ['running'], 'failed', {
        error: `${counts.failed} batch(es) failed ${maxAttempts} times; resume the job once the cause is fixed`,
      });
      await deps.audit?.record(tx, { actor, action: 'job.failed', subject: `job:${jobId}`, details: { failedBatches: counts.failed } });
      return failed;
    });
  } else if (errorRateExceeded(job.counters, job.maxErrorRate, job.abortMinRows, true)) {
    job = await abortJob(deps, job, describeErrorRate(job.counters, job.maxErrorRate));
  } else {
    job = await transitionJob(deps.sql, jobId, ['running'], 'verifying');
  }
  return { job, settled: true, remaining: none, nextLeaseExpiryMs: null };
}

/** Aborts a running job for its error rate, with an audit event. */
export async function abortJob(deps: EngineDeps, job: JobRecord, reason: string): Promise<JobRecord> {
  return deps.sql.transaction(async (tx) => {
    const aborted = await transitionJob(tx, job.id, ['running'], 'aborted', { error: reason, finished: true });
    await deps.audit?.record(tx, {
      actor: workerName(deps),
      action: 'job.aborted',
      subject: `job:${job.id}`,
      details: { reason: 'max-error-rate', rowsFailed: aborted.counters.rowsFailed, maxErrorRate: aborted.maxErrorRate },
    });
    return aborted;
  });
}

export interface FinalizeOptions {
  /** Retire rotating keys that verify finds empty. Default true (needs deps.catalog). */
  readonly retire?: boolean | undefined;
  /** Decrypt every value while verifying. Default false: headers only. */
  readonly decrypt?: boolean | undefined;
}

export interface FinalizeResult {
  readonly job: JobRecord;
  readonly verify: VerifyReport;
  readonly retire?: RetireResult;
}

/**
 * Verifies a `verifying` job's tables, retires the rotating keys that a verify
 * of EVERY registered table finds empty, and finishes the job: `completed`,
 * or `completed_with_errors` when rows are left off the target key, rows
 * failed, values did not decrypt, or a key the job moved rows off still holds
 * values (it stays rotating, and keeps decrypting). Safe to call again after a
 * crash: retiring is idempotent and the job stays `verifying` until the end.
 */
export async function finalizeJob(deps: EngineDeps, jobId: string, options: FinalizeOptions = {}): Promise<FinalizeResult> {
  const job = await getJob(deps.sql, jobId);
  const report = await verify(deps, { targetKeyId: job.targetKeyId, tables: job.tables, decrypt: options.decrypt, pageSize: deps.pageSize });
  let retire: RetireResult | undefined;
  if (deps.catalog && options.retire !== false) {
    const covered = deps.registry.tables.map(tableKey).every((t) => job.tables.includes(t));
    // Retiring needs counts over every registered table, not just the job's.
    const full = covered ? report : await verify(deps, { targetKeyId: job.targetKeyId, pageSize: deps.pageSize });
    retire = await retireVerifiedKeys({ sql: deps.sql, catalog: deps.catalog, audit: deps.audit }, full, job.requestedBy, { job: job.id });
  }
  await deps.faults?.('job.verified');
  const keptSource = (retire?.kept ?? []).filter((k) => job.sourceKeyIds.includes(k.keyId));
  const why: string[] = [];
  if (!report.allOnTarget) why.push(`${report.tables.reduce((a, t) => a + t.rowsNotOnTarget, 0)} row(s) not on ${job.targetKeyId}`);
  if (report.decryptFailures > 0) why.push(`${report.decryptFailures} value(s) failed to decrypt`);
  if (job.counters.rowsFailed > 0) why.push(`${job.counters.rowsFailed} row(s) failed (see rekey_row_errors)`);
  for (const k of keptSource) why.push(`key ${k.keyId} still holds ${k.values} value(s) and was not retired`);
  const status = why.length === 0 ? 'completed' : 'completed_with_errors';
  const final = await deps.sql.transaction(async (tx) => {
    const done = await transitionJob(tx, jobId, ['verifying'], status, { finished: true, error: why.length ? why.join('; ') : null });
    await deps.audit?.record(tx, {
      actor: job.requestedBy,
      action: `job.${status}`,
      subject: `job:${jobId}`,
      details: { ...done.counters, retired: retire?.retired ?? [], kept: retire?.kept ?? [] },
    });
    return done;
  });
  return { job: final, verify: report, ...(retire ? { retire } : {}) };
}
