import {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  executeClaimedBatch,
  workerName,
  type BatchResult,
} from '../batches/batch-executor';
import type { EngineDeps } from '../ports';
import { JOB_DEFAULTS } from '../../job-settings';
import { isRetryable } from '../../errors';
import { BatchLeaseLostError, InjectedFaultError } from '../errors';
import { isTerminal } from './job-status';
import { finalizeJob, settleBatchPhase, verifyJob, type BatchPhaseState } from './job-phases';
import { claimNextBatch, type ClaimedBatch } from '../store/batch-leases';
import { getJob, transitionJob, type JobRecord, type TablePlanSummary } from '../store/jobs-table';
import { resetFailedBatches } from '../store/batches-table';
import { createJob, planJob, type JobRequest } from './jobs';
import { takeOverDeadLeases, type ForeignLease } from './lease-takeover';
import type { RetireResult } from '../verify/retire';
import { TableShapeCache } from '../sql/table-shape';
import type { VerifyReport } from '../verify/verify';

/**
 * Runs a job on this process: plan, run its batches with N concurrent
 * workers (each claims the next batch with SKIP LOCKED and calls the same
 * executeClaimedBatch a Lambda worker calls), then verify, retire and finish.
 *
 * Works from whatever state the job is in, so resuming after a crash is
 * calling it again: pending/planning → plan; running → claim pending, failed
 * and expired-lease batches (waiting for live leases of other processes to
 * end); verifying → verify again. It ends in the state an uninterrupted run
 * would have reached.
 */

export interface JobProgress {
  readonly jobId: string;
  readonly rowsTotal: number;
  readonly rowsDone: number;
  readonly rowsFailed: number;
  readonly rowsSkipped: number;
  readonly rowsConflicted: number;
  readonly batchesDone: number;
  readonly batchesTotal: number;
  readonly elapsedMs: number;
  /** Rows attempted by this run per second of this run. */
  readonly rowsPerSecond: number;
}

export interface RunOptions {
  /** Concurrent batch workers in this process. @default JOB_DEFAULTS.runnerConcurrency */
  readonly concurrency?: number | undefined;
  /** Called after every batch this process finishes. */
  readonly onProgress?: ((progress: JobProgress) => void) | undefined;
  /** Stop claiming batches (Ctrl-C); the job stays `running` and can be resumed. */
  readonly signal?: AbortSignal | undefined;
  /** How often to look again while other processes hold live leases. Default 1,000 ms. */
  readonly pollMs?: number | undefined;
  /** Retire rotating keys that verify finds empty. Default true (needs deps.catalog). */
  readonly retire?: boolean | undefined;
  /** Verify decrypts every value (slow; default false: headers only). */
  readonly verifyDecrypt?: boolean | undefined;
  /**
   * Called when this run meets live leases of other holders with nothing
   * else left to claim (lease-takeover.ts): the leases of holders proven
   * gone have just been taken over; the others are waited for. Once per
   * holder and state.
   */
  readonly onForeignLeases?: ((leases: readonly ForeignLease[]) => void) | undefined;
}

export interface JobOutcome {
  readonly job: JobRecord;
  /** Per-table counts of the plan (present when this call planned the job). */
  readonly plan?: readonly TablePlanSummary[];
  /** Dry runs: `DRY RUN: Would re-encrypt 42 of 100 records` lines. */
  readonly dryRunReport?: readonly string[];
  /** The verify of the job's tables (absent for dry runs and jobs that did not get that far). */
  readonly verify?: VerifyReport;
  readonly retire?: RetireResult;
  /** True when this call stopped on the signal before the job finished. */
  readonly interrupted: boolean;
}

/** Creates a job and runs it to the end. */
export async function startJob(deps: EngineDeps, request: JobRequest, options: RunOptions = {}): Promise<JobOutcome> {
  const job = await createJob(deps, request);
  return runJob(deps, job.id, options);
}

/** Picks up a job after a crash or an interruption; the same as runJob, named for the CLI. */
export function resumeJob(deps: EngineDeps, jobId: string, options: RunOptions = {}): Promise<JobOutcome> {
  return runJob(deps, jobId, options);
}

export async function runJob(deps: EngineDeps, jobId: string, options: RunOptions = {}): Promise<JobOutcome> {
  // One table-shape cache for the whole run; the runner's workers share it.
  deps = { ...deps, shapes: deps.shapes ?? new TableShapeCache() };
  // Lease batches under a name whose liveness lock proves this runner alive (and, after a crash, gone).
  const hold = await deps.liveness?.hold(workerName(deps));
  try {
    return await runJobAs(hold ? { ...deps, worker: hold.worker } : deps, jobId, options);
  } finally {
    await hold?.release();
  }
}

async function runJobAs(deps: EngineDeps, jobId: string, options: RunOptions): Promise<JobOutcome> {
  let job = await getJob(deps.sql, jobId);
  let plan: readonly TablePlanSummary[] | undefined;

  if (
    job.status === 'pending' ||
    job.status === 'planning' ||
    (job.status === 'failed' && job.counters.batchesTotal === 0)
  ) {
    const planned = await planJob(deps, jobId);
    job = planned.job;
    plan = planned.summary;
    if (planned.report) return { job, plan, dryRunReport: planned.report, interrupted: false };
  }
  if (isTerminal(job.status)) return { job, ...(plan ? { plan } : {}), interrupted: false };
  if (job.status === 'failed') {
    await resetFailedBatches(deps.sql, jobId);
    job = await transitionJob(deps.sql, jobId, ['failed'], 'running', { error: null });
  }

  if (job.status === 'running') {
    const ran = await runBatches(deps, job, options);
    job = ran.job;
    if (ran.interrupted || job.status !== 'verifying')
      return { job, ...(plan ? { plan } : {}), interrupted: ran.interrupted };
    await deps.faults?.('job.verifying');
  }
  const verified = await verifyJob(deps, jobId, { decrypt: options.verifyDecrypt });
  if (!verified.clean || verified.job.status !== 'verifying' || options.retire === false) {
    // Not clean: verifyJob has finished the job. Retire off: complete without touching the catalog.
    const job =
      verified.job.status === 'verifying'
        ? (await finalizeJob({ ...deps, catalog: undefined }, jobId, verified.verify)).job
        : verified.job;
    return {
      job,
      verify: verified.verify,
      ...(verified.retire ? { retire: verified.retire } : {}),
      ...(plan ? { plan } : {}),
      interrupted: false,
    };
  }
  const finalized = await finalizeJob(deps, jobId, verified.verify);
  return {
    job: finalized.job,
    verify: verified.verify,
    ...(finalized.retire ? { retire: finalized.retire } : {}),
    ...(plan ? { plan } : {}),
    interrupted: false,
  };
}

async function runBatches(
  deps: EngineDeps,
  job: JobRecord,
  options: RunOptions,
): Promise<{ job: JobRecord; interrupted: boolean }> {
  const concurrency = Math.max(1, options.concurrency ?? JOB_DEFAULTS.runnerConcurrency);
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const maxAttempts = deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const worker = workerName(deps);
  const report = progressReporter(job, options);
  const state: RunnerState = { crash: undefined, stop: false };
  const told = new Set<string>();
  const claim = (): Promise<ClaimedBatch | undefined> => claimNextBatch(deps.sql, job.id, worker, leaseMs, maxAttempts);

  for (;;) {
    await Promise.all(
      Array.from({ length: concurrency }, () => runClaimedBatches(deps, claim, report, state, options)),
    );
    if (state.crash) throw state.crash;
    if (options.signal?.aborted) return { job: await getJob(deps.sql, job.id), interrupted: true };
    const phase = await settleBatchPhase(deps, job.id);
    if (phase.settled) return { job: phase.job, interrupted: false };
    if (phase.remaining.pending + phase.remaining.retryable === 0) {
      await waitForOtherHolders(deps, job.id, worker, phase, told, options);
    }
  }
}

/** Shared by this process's concurrent loops: a simulated crash stops them all, as does the job leaving `running`. */
interface RunnerState {
  crash: unknown;
  stop: boolean;
}

/** Adds each finished batch to the job's totals and reports them with this run's rows per second. */
function progressReporter(job: JobRecord, options: RunOptions): (r: BatchResult) => void {
  const started = Date.now();
  const totals = { ...job.counters };
  let attemptedHere = 0;
  return (r: BatchResult): void => {
    totals.rowsDone += r.counts.done;
    totals.rowsFailed += r.counts.failed;
    totals.rowsSkipped += r.counts.skipped;
    totals.rowsConflicted += r.counts.conflicted;
    totals.batchesDone += 1;
    attemptedHere += r.counts.done + r.counts.failed + r.counts.conflicted + r.counts.skipped;
    const elapsedMs = Date.now() - started;
    options.onProgress?.({
      jobId: job.id,
      ...totals,
      elapsedMs,
      rowsPerSecond: elapsedMs > 0 ? (attemptedHere * 1000) / elapsedMs : 0,
    });
  };
}

/** One of the process's concurrent loops: claims and runs batches until none is left to claim or the run stops. */
async function runClaimedBatches(
  deps: EngineDeps,
  claim: () => Promise<ClaimedBatch | undefined>,
  report: (r: BatchResult) => void,
  state: RunnerState,
  options: RunOptions,
): Promise<void> {
  while (!state.stop && !options.signal?.aborted) {
    const claimed = await claimWithRetry(claim, options.signal);
    if (!claimed) return;
    try {
      const result = await executeClaimedBatch(deps, claimed);
      report(result);
      if (result.jobStatus !== 'running') state.stop = true;
    } catch (err) {
      if (err instanceof BatchLeaseLostError) continue;
      if (err instanceof InjectedFaultError) {
        // A simulated kill: stop this whole runner, as a crash would.
        state.crash ??= err;
        state.stop = true;
        return;
      }
      // Anything else failed the batch (executeClaimedBatch marked it); it is claimed again while attempts remain.
    }
  }
}

/**
 * Only batches leased by other holders are left: take over those of runners
 * proven gone at once (then look again without waiting); wait for the others
 * to finish or their leases to expire.
 */
async function waitForOtherHolders(
  deps: EngineDeps,
  jobId: string,
  worker: string,
  phase: BatchPhaseState,
  told: Set<string>,
  options: RunOptions,
): Promise<void> {
  const leases = await takeOverDeadLeases(deps.sql, jobId, worker);
  const news = leases.filter((l) => !told.has(`${l.worker} ${l.state}`));
  for (const l of news) told.add(`${l.worker} ${l.state}`);
  if (news.length > 0) options.onForeignLeases?.(news);
  if (leases.some((l) => l.state === 'gone')) return;
  await sleep(Math.min(options.pollMs ?? 1000, Math.max(10, phase.nextLeaseExpiryMs ?? 0) + 5), options.signal);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** Attempts of one claim through transient database errors, and the longest pause between two. */
const CLAIM_ATTEMPTS = 8;
const CLAIM_MAX_BACKOFF_MS = 5000;

/**
 * Claims the next batch, again after a backoff when the database fails
 * transiently (a dropped connection, the Data API unavailable or throttling
 * past its own retries): a claim has changed nothing when it fails, so one
 * outage must not end the run while a batch would fail and be claimed again.
 */
export async function claimWithRetry<T>(claim: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await claim();
    } catch (err) {
      if (!isRetryable(err) || attempt >= CLAIM_ATTEMPTS || signal?.aborted) throw err;
      await sleep(Math.random() * Math.min(CLAIM_MAX_BACKOFF_MS, 100 * 2 ** attempt), signal);
    }
  }
}
