import { executeBatch, type BatchResult } from '../reencrypt/batches/batch-executor';
import type { EngineDeps } from '../reencrypt/ports';
import {
  abortJob,
  finalizeJob,
  jobProgress,
  markJobFailed,
  settleBatchPhase,
  verifyJob,
} from '../reencrypt/jobs/job-phases';
import { batchIdOf, type BatchRef } from '../reencrypt/store/batch-ids';
import { batchesToEnqueue, countBatchesToEnqueue, markBatchesEnqueued } from '../reencrypt/store/batches-table';
import { findJobByExecution, getJob } from '../reencrypt/store/jobs-table';
import { createJob, planJob } from '../reencrypt/jobs/jobs';
import { BatchesStuckError, JobFailedError } from './errors';
import type { ExecutionRequest } from './execution-request';
import { describeStuckBatches, findStuckBatches, type StuckBatchOptions } from './stuck-batches';
import { QueueError, type QueuePort } from '../ports/queues';
import { runnerOf } from '../plan/history';
import { planFromJob } from '../plan/plan-job';
import type { RotationPlan } from '../plan/estimate';

/**
 * The re-encryption state machine's steps after ValidateInput
 * (execution-request.ts) as plain functions: the Lambda handlers are thin
 * wrappers around these, and the local runtime calls the same handlers.
 * Inputs and outputs are ids and counts only (docs/state-machine.md).
 */

/**
 * Plan: one job per execution (idempotent on executionId), planned once. A
 * dry run also returns the rotation plan (`rekey plan`'s object, for the
 * state-machine runner: calls, transitions, duration, cost); a real run
 * returns `plan: null`.
 */
export async function planStep(
  deps: EngineDeps,
  executionId: string,
  request: ExecutionRequest,
  primaryKeyId: (tenant: string | null) => string,
  planOptions: { readonly region?: string | undefined } = {},
): Promise<{
  jobId: string;
  rowsTotal: number;
  rowsToChange: number;
  batchesTotal: number;
  plan: RotationPlan | null;
}> {
  // A tenant execution goes to the tenant's active key; a global one to the global primary.
  const target = request.targetKeyId ?? primaryKeyId(request.tenant);
  const job = await createJob(deps, {
    tenant: request.tenant,
    mode: request.mode,
    targetKeyId: target,
    tables: request.tables ?? undefined,
    batchSize: request.batchSize,
    dryRun: request.dryRun,
    maxErrorRate: request.maxErrorRate,
    requestedBy: `execution:${executionId.split(':').pop()}`,
    executionId,
  });
  const planned = await planJob(deps, job.id);
  const summary = planned.job.plan ?? planned.summary;
  return {
    jobId: job.id,
    rowsTotal: summary.reduce((a, t) => a + t.rowsTotal, 0),
    rowsToChange: summary.reduce((a, t) => a + t.rowsPending, 0),
    batchesTotal: planned.job.counters.batchesTotal,
    plan: planned.job.dryRun
      ? await planFromJob(deps, planned.job, { runner: runnerOf(executionId), region: planOptions.region })
      : null,
  };
}

/** Enqueue: up to maxBatches not-yet-sent batches, as `{jobId, batchId}` messages. */
export async function enqueueStep(
  deps: Pick<EngineDeps, 'sql'>,
  jobId: string,
  maxBatches: number,
  send: (messages: readonly { jobId: string; batchId: string }[]) => Promise<void>,
): Promise<{ batchesEnqueued: number; batchesLeft: number }> {
  let enqueued = 0;
  while (enqueued < maxBatches) {
    const refs: BatchRef[] = await batchesToEnqueue(deps.sql, jobId, Math.min(500, maxBatches - enqueued));
    if (refs.length === 0) break;
    // Marked after sending: a crash in between resends those messages, which batches tolerate.
    // A refused send marks what went before it, so the retried task resends only the rest.
    let sent = 0;
    try {
      for (; sent < refs.length; sent += Math.min(10, refs.length - sent)) {
        await send(refs.slice(sent, sent + 10).map((ref) => ({ jobId, batchId: batchIdOf(ref) })));
      }
    } finally {
      if (sent > 0) await markBatchesEnqueued(deps.sql, jobId, refs.slice(0, sent));
    }
    enqueued += refs.length;
  }
  return { batchesEnqueued: enqueued, batchesLeft: await countBatchesToEnqueue(deps.sql, jobId) };
}

/**
 * CheckProgress: the job row's counters and the next wait. When no batch is
 * left it also settles the batch phase (running → verifying, or aborted /
 * failed), so Verify finds the job ready. `errorRate` is reported as the
 * engine judges it — only past abortMinRows attempted rows, and always at the
 * end — so the state machine's `errorRate > maxErrorRate` takes the same
 * decision the CLI's runner would (docs/decisions.md).
 */
export async function progressStep(
  deps: EngineDeps,
  jobId: string,
  wait: { readonly minWaitSeconds: number; readonly maxWaitSeconds: number; readonly waitFraction: number },
  now = Date.now(),
  stuck?: StuckBatchOptions & { readonly queues: QueuePort },
): Promise<{
  rowsDone: number;
  rowsFailed: number;
  batchesRemaining: number;
  errorRate: number;
  waitSeconds: number;
  shouldAbort: boolean;
  stuckCheckError?: string;
}> {
  const phase = await settleBatchPhase(deps, jobId);
  if (phase.job.status === 'failed') throw new JobFailedError(jobId, phase.job.error ?? 'batches failed');
  let stuckCheckError: string | undefined;
  if (stuck && !phase.settled) {
    // Best effort: a queue the function may not read (a grant missing) must not fail a job that is working.
    const found = await findStuckBatches(deps.sql, stuck.queues, jobId, stuck).catch((err: unknown) => {
      if (!(err instanceof QueueError)) throw err;
      stuckCheckError = err.message;
      return null;
    });
    if (found) {
      // The job row says why too (rekey status), before the execution fails through MarkFailed.
      const cause = describeStuckBatches(found);
      await markJobFailed(deps, jobId, cause);
      throw new BatchesStuckError(jobId, found.batchIds, cause);
    }
  }
  const p = await jobProgress(deps, jobId);
  const max = p.job.maxErrorRate;
  const abort = p.shouldAbort || phase.job.status === 'aborted';
  const started = p.job.startedAt?.getTime() ?? p.job.createdAt.getTime();
  const elapsed = Math.max(0, (now - started) / 1000);
  const waitSeconds = Math.min(
    wait.maxWaitSeconds,
    Math.max(wait.minWaitSeconds, Math.ceil(elapsed * wait.waitFraction)),
  );
  return {
    rowsDone: p.job.counters.rowsDone,
    rowsFailed: p.job.counters.rowsFailed,
    // Settled or not is the batch phase's word: a batch a worker holds (running, leased) still counts as remaining.
    batchesRemaining: phase.settled
      ? 0
      : Math.max(1, phase.remaining.pending + phase.remaining.running + phase.remaining.retryable),
    errorRate: abort ? Math.max(p.errorRate, max + 1e-9) : Math.min(p.errorRate, max),
    waitSeconds,
    shouldAbort: abort,
    ...(stuckCheckError ? { stuckCheckError } : {}),
  };
}

export async function abortStep(
  deps: EngineDeps,
  jobId: string,
  errorRate: number,
  maxErrorRate: number,
): Promise<void> {
  await abortJob(
    deps,
    jobId,
    `failed rows reached ${(errorRate * 100).toFixed(2)} % (limit ${(maxErrorRate * 100).toFixed(2)} %)`,
  );
}

export async function verifyStep(
  deps: EngineDeps,
  jobId: string,
): Promise<{ rowsOnOldKeys: number; rowsFailed: number }> {
  const result = await verifyJob(deps, jobId);
  return { rowsOnOldKeys: result.rowsOnOldKeys, rowsFailed: result.rowsFailed };
}

export async function finalizeStep(deps: EngineDeps, jobId: string): Promise<{ retiredKeyIds: string[] }> {
  const result = await finalizeJob(deps, jobId);
  return { retiredKeyIds: [...result.job.retiredKeyIds] };
}

/** MarkFailed: the execution's job (if it got one) becomes `failed`; nothing to do otherwise. */
export async function markFailedStep(
  deps: EngineDeps,
  executionId: string,
  error: string,
): Promise<{ jobId: string | null }> {
  const job = await findJobByExecution(deps.sql, executionId);
  if (!job) return { jobId: null };
  const current = await getJob(deps.sql, job.id);
  if (['completed', 'completed_with_errors', 'aborted', 'failed'].includes(current.status)) return { jobId: job.id };
  await markJobFailed(deps, job.id, error.slice(0, 200));
  return { jobId: job.id };
}

/** The SQS worker's unit: one batch. `retry` says whether SQS should deliver it again. */
export async function workerStep(
  deps: EngineDeps,
  jobId: string,
  batchId: string,
): Promise<{ result: BatchResult; retry: boolean }> {
  const result = await executeBatch(deps, jobId, batchId);
  // Another worker holds the lease: let SQS redeliver after the visibility timeout.
  return { result, retry: result.outcome === 'leased' };
}
