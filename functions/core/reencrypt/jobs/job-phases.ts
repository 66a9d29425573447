import { DEFAULT_MAX_ATTEMPTS, workerName } from '../batches/batch-executor';
import type { EngineDeps } from '../ports';
import { describeErrorRate, errorRate, errorRateExceeded } from './error-rate';
import { JobStateError } from '../errors';
import { isTerminal, type JobStatus } from './job-status';
import { batchStatusCounts } from '../store/batches-table';
import { getJob, recordVerifiedKeys, transitionJob, type JobRecord } from '../store/jobs-table';
import type { RetireResult } from '../verify/retire';
import { finish, fullCounts, reasons, retireEmptyKeys, withLateWrites } from './job-endings';
import { verify, type VerifyReport } from '../verify/verify';
import { currentSinceXid } from '../verify/late-writes';

/**
 * The steps around the batches, as functions any driver can call: the local
 * runner, and the state machine's CheckProgress, Abort, Verify, Finalize and
 * MarkFailed tasks on AWS. Each is safe to call again (a retried task).
 */

export interface JobProgressState {
  readonly job: JobRecord;
  /** Batches pending, running, or failed with attempts left. */
  readonly batchesRemaining: number;
  /** failed ÷ attempted rows (see error-rate.ts). */
  readonly errorRate: number;
  /** The job's own rule says abort now (minimum sample reached and rate above the maximum). */
  readonly shouldAbort: boolean;
}

/** Where a job stands, read-only: the state machine's progress loop. */
export async function jobProgress(
  deps: Pick<EngineDeps, 'sql' | 'maxAttempts'>,
  jobId: string,
): Promise<JobProgressState> {
  const job = await getJob(deps.sql, jobId);
  const counts = await batchStatusCounts(deps.sql, jobId, deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  return {
    job,
    batchesRemaining: counts.pending + counts.running + counts.retryable,
    errorRate: errorRate(job.counters),
    shouldAbort: job.status === 'running' && errorRateExceeded(job.counters, job.maxErrorRate, job.abortMinRows),
  };
}

export interface BatchPhaseState {
  readonly job: JobRecord;
  /** True when the batch phase is over (the job is no longer `running`). */
  readonly settled: boolean;
  /** Batches still to run or running (when not settled). */
  readonly remaining: { readonly pending: number; readonly running: number; readonly retryable: number };
  /** Milliseconds until the first live lease expires, when batches are running. */
  readonly nextLeaseExpiryMs: number | null;
}

/**
 * Once no batch is left to run, moves a running job on: `failed` (batches out
 * of attempts), `aborted` (error rate above the maximum, judged on every
 * attempted row), else `verifying`. Until then, reports what is left.
 */
export async function settleBatchPhase(deps: EngineDeps, jobId: string): Promise<BatchPhaseState> {
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  // Batches first, then the job: a batch's status and its rows' counters commit in one transaction, so
  // counters read after "no batch left" hold every batch. Read the other way round, a batch finishing
  // between the two reads left the final error rate judged on the counters of the batches before it.
  const counts = await batchStatusCounts(deps.sql, jobId, maxAttempts);
  let job = await getJob(deps.sql, jobId);
  const none = { pending: 0, running: 0, retryable: 0 };
  if (job.status !== 'running') return { job, settled: true, remaining: none, nextLeaseExpiryMs: null };
  const remaining = { pending: counts.pending, running: counts.running, retryable: counts.retryable };
  if (counts.pending + counts.running + counts.retryable > 0) {
    return { job, settled: false, remaining, nextLeaseExpiryMs: counts.nextLeaseExpiryMs };
  }
  if (counts.failed > 0) {
    job = await markJobFailed(
      deps,
      jobId,
      `${counts.failed} batch(es) failed ${maxAttempts} times; resume the job once the cause is fixed`,
    );
  } else if (errorRateExceeded(job.counters, job.maxErrorRate, job.abortMinRows, true)) {
    job = await abortJob(deps, jobId);
  } else {
    // Another runner of the same job (a --resume beside the first run) may have settled it first.
    job = await transitionJob(deps.sql, jobId, ['running'], 'verifying').catch(async (err: unknown) => {
      if (err instanceof JobStateError) return getJob(deps.sql, jobId);
      throw err;
    });
  }
  return { job, settled: true, remaining: none, nextLeaseExpiryMs: null };
}

/**
 * Aborts a running job for its error rate (the state machine's Abort task):
 * workers then skip its remaining batches. A job already aborted is returned
 * as it is; one in any other state is a JobStateError.
 */
export async function abortJob(deps: EngineDeps, jobId: string, reason?: string): Promise<JobRecord> {
  const job = await getJob(deps.sql, jobId);
  if (job.status === 'aborted') return job;
  return deps.sql.transaction(async (tx) => {
    const aborted = await transitionJob(tx, jobId, ['running'], 'aborted', {
      error: reason ?? describeErrorRate(job.counters, job.maxErrorRate),
      finished: true,
    });
    await deps.audit?.record(tx, {
      actor: workerName(deps),
      action: 'job.aborted',
      subject: `job:${jobId}`,
      details: {
        reason: 'max-error-rate',
        rowsFailed: aborted.counters.rowsFailed,
        maxErrorRate: aborted.maxErrorRate,
      },
    });
    return aborted;
  });
}

const FAILABLE: readonly JobStatus[] = ['pending', 'planning', 'running', 'verifying'];

/**
 * Marks a live job `failed` with a reason (error names and counts only). A job
 * already finished or failed is returned unchanged: MarkFailed may run after
 * the job ended for another reason.
 */
export async function markJobFailed(deps: EngineDeps, jobId: string, error: string): Promise<JobRecord> {
  const job = await getJob(deps.sql, jobId);
  if (!FAILABLE.includes(job.status)) return job;
  try {
    return await deps.sql.transaction(async (tx) => {
      const failed = await transitionJob(tx, jobId, FAILABLE, 'failed', { error });
      await deps.audit?.record(tx, {
        actor: workerName(deps),
        action: 'job.failed',
        subject: `job:${jobId}`,
        details: { error },
      });
      return failed;
    });
  } catch (err) {
    if (err instanceof JobStateError) return getJob(deps.sql, jobId); // it finished meanwhile
    throw err;
  }
}

export interface VerifyJobResult {
  readonly job: JobRecord;
  readonly verify: VerifyReport;
  /** Rows of the job's tables not (entirely) under the target key. */
  readonly rowsOnOldKeys: number;
  readonly rowsFailed: number;
  /** Nothing left off the target, no failed row, every value decrypted (with decrypt). */
  readonly clean: boolean;
  /** Present when not clean: the keys that could still be retired, and those kept. */
  readonly retire?: RetireResult;
}

/**
 * Verifies a `verifying` job's tables (the state machine's Verify task). When
 * rows remain off the target key, rows failed or values did not decrypt, it
 * retires whatever keys are empty anyway and finishes the job
 * `completed_with_errors`; when clean, the job stays `verifying` for
 * finalizeJob. On a finished job it only verifies (a retried task).
 */
export async function verifyJob(
  deps: EngineDeps,
  jobId: string,
  options: { readonly decrypt?: boolean | undefined } = {},
): Promise<VerifyJobResult> {
  let job = await getJob(deps.sql, jobId);
  if (job.status !== 'verifying' && !isTerminal(job.status)) {
    throw new JobStateError(jobId, job.status, 'verifying', 'only a job whose batches are finished can be verified');
  }
  const sinceXid = job.status === 'verifying' ? await currentSinceXid(deps.sql) : undefined; // before counting: late writes are newer
  const report = await verify(deps, {
    targetKeyId: job.targetKeyId,
    fernetTargetKeyId: job.fernetTargetKeyId,
    mode: job.mode,
    tables: job.tables,
    decrypt: options.decrypt,
    pageSize: deps.pageSize,
    scope: job.scope,
  });
  // The counts retiring needs, over every known table — this report when it already covers them all —
  // kept with the job so Finalize decides without a second pass over every table.
  const full = job.status === 'verifying' ? await fullCounts(deps, report) : undefined;
  if (full) await recordVerifiedKeys(deps.sql, jobId, full.keys, sinceXid);
  const rowsOnOldKeys = report.tables.reduce((a, t) => a + t.rowsNotOnTarget, 0);
  // Plaintext sources waiting are this job's business only in encrypt mode (a rewrap does not move them).
  const clean =
    report.allOnTarget &&
    report.decryptFailures === 0 &&
    (job.mode !== 'encrypt' || report.plaintextSources === 0) &&
    job.counters.rowsFailed === 0;
  await deps.faults?.('job.verified');
  if (clean || job.status !== 'verifying')
    return { job, verify: report, rowsOnOldKeys, rowsFailed: job.counters.rowsFailed, clean };
  const retire = await retireEmptyKeys(deps, job, full!);
  const why = reasons(job, report, retire);
  job = await finish(deps, job, 'completed_with_errors', why, retire);
  return { job, verify: report, rowsOnOldKeys, rowsFailed: job.counters.rowsFailed, clean, retire };
}

export interface FinalizeResult {
  readonly job: JobRecord;
  readonly retire?: RetireResult;
}

/**
 * Retires the rotating keys that a verify of EVERY registered table finds
 * empty and completes a clean `verifying` job (the state machine's Finalize
 * task). `report` may pass a verify just made over all tables; otherwise it
 * verifies again, since the tables may have changed since Verify. A key the
 * job moved rows off that still holds values keeps decrypting, and the job
 * ends `completed_with_errors`. On a finished job it returns it as it is.
 */
export async function finalizeJob(deps: EngineDeps, jobId: string, report?: VerifyReport): Promise<FinalizeResult> {
  const job = await getJob(deps.sql, jobId);
  if (job.status !== 'verifying') {
    if (isTerminal(job.status)) return { job };
    throw new JobStateError(jobId, job.status, 'completed', 'only a verified job can be finalized');
  }
  // The counts Verify kept with the job (a retired key still decrypts, so values written under it since
  // then lose nothing; `rekey keys destroy` counts again), else counts made now.
  const counts =
    (job.verifiedKeys && (await withLateWrites(deps, job, job.verifiedKeys))) ??
    (await fullCounts(deps, report, job.targetKeyId));
  const retire = await retireEmptyKeys(deps, job, counts);
  // Verify found the job's own rows clean: a key kept because other tables or tenants still use it is
  // reported (retire.kept), not an error of this job — a `-t` or tenant job finishes `completed`.
  const why = reasons(job, undefined, undefined);
  return {
    job: await finish(deps, job, why.length === 0 ? 'completed' : 'completed_with_errors', why, retire),
    ...(retire ? { retire } : {}),
  };
}
