import { KeyNotActiveError } from '../crypto/errors';
import type { KeyPolicy } from '../keys/policy';
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
import {
  batchIdOf,
  batchesToEnqueue,
  countBatchesToEnqueue,
  findJobByExecution,
  getJob,
  markBatchesEnqueued,
  type BatchRef,
} from '../reencrypt/store/job-store';
import { createJob, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, planJob } from '../reencrypt/jobs/jobs';
import { isMode, MODES, type Mode } from '../reencrypt/values/modes';
import { findTable } from '../reencrypt/config/registry';
import { DEFAULT_MAX_ERROR_RATE } from '../reencrypt/jobs/error-rate';
import { BatchesStuckError, InvalidInputError, JobFailedError } from './errors';
import { CONSOLE_SAMPLE_INPUT, EXECUTION_INPUT_FIELDS, EXECUTION_INPUT_HINT } from './execution-input-schema';
import { describeStuckBatches, findStuckBatches, type StuckBatchOptions } from './stuck-batches';
import { QueueError, type QueuePort } from '../ports/queues';
import { planFromJob } from '../plan/plan-job';
import type { RotationPlan } from '../plan/estimate';

/**
 * The re-encryption state machine's steps as plain functions: the Lambda
 * handlers are thin wrappers around these, and the local runtime calls the
 * same handlers. Inputs and outputs are ids and counts only (docs/state-machine.md).
 */

export interface ExecutionRequest {
  readonly mode: Mode;
  readonly tables: string[] | null;
  readonly batchSize: number;
  readonly dryRun: boolean;
  readonly maxErrorRate: number;
  readonly targetKeyId: string | null;
  readonly tenant: string | null;
}

/** What a value is, for a message ("a string", "an array", "null"). */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value} (${JSON.stringify(value)?.slice(0, 40)})`;
}

/**
 * ValidateInput: every problem of the execution input at once, against
 * EXECUTION_INPUT_SCHEMA (docs/execution-input.schema.json). A wrong shape —
 * not an object, unknown fields, the console's sample input — is answered
 * with the shape expected.
 */
export function validateExecutionInput(
  input: unknown,
  defaults: { readonly batchSize?: number; readonly maxErrorRate?: number; readonly maxTables?: number },
  deps: Pick<EngineDeps, 'registry'>,
  policy?: Pick<KeyPolicy, 'statusOf' | 'encryptionKeyId'>,
): ExecutionRequest {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError([`the input is ${describe(input)}: ${EXECUTION_INPUT_HINT}`]);
  }
  const i = input as Record<string, unknown>;
  if (Object.keys(i).length === 1 && i.Comment === CONSOLE_SAMPLE_INPUT.Comment) {
    throw new InvalidInputError([
      `this is the Step Functions console's sample input ({"Comment": "Insert your JSON here"}): replace it; ${EXECUTION_INPUT_HINT}`,
    ]);
  }
  const unknown = Object.keys(i).filter((key) => !EXECUTION_INPUT_FIELDS.includes(key));
  // The expected shape once, after the last unknown field.
  unknown.forEach((key, n) =>
    problems.push(`${key}: unknown field${n === unknown.length - 1 ? `; ${EXECUTION_INPUT_HINT}` : ''}`),
  );
  const mode = i.mode ?? 'rewrap';
  if (!isMode(mode)) problems.push(`mode: must be one of ${MODES.join(', ')}, got ${JSON.stringify(i.mode)}`);
  let tables: string[] | null = null;
  if (i.tables !== undefined && i.tables !== null) {
    if (!Array.isArray(i.tables) || i.tables.some((t) => typeof t !== 'string'))
      problems.push('tables: must be a list of table names');
    else {
      tables = i.tables as string[];
      for (const t of tables)
        if (!findTable(deps.registry, t)) problems.push(`tables: ${JSON.stringify(t)} is not in the registry`);
      if (defaults.maxTables !== undefined && tables.length > defaults.maxTables)
        problems.push(`tables: at most ${defaults.maxTables}`);
    }
  }
  const batchSize = i.batchSize ?? defaults.batchSize ?? DEFAULT_BATCH_SIZE;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    problems.push(`batchSize: must be an integer from 1 to ${MAX_BATCH_SIZE}, got ${JSON.stringify(i.batchSize)}`);
  }
  const dryRun = i.dryRun ?? false;
  if (typeof dryRun !== 'boolean') problems.push(`dryRun: must be true or false, got ${JSON.stringify(i.dryRun)}`);
  const maxErrorRate = i.maxErrorRate ?? defaults.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
  if (typeof maxErrorRate !== 'number' || !(maxErrorRate >= 0 && maxErrorRate <= 1)) {
    problems.push(`maxErrorRate: must be a number from 0 to 1 (0.01 = 1 %), got ${JSON.stringify(i.maxErrorRate)}`);
  }
  const targetKeyId = i.targetKeyId ?? null;
  if (targetKeyId !== null && typeof targetKeyId !== 'string') problems.push('targetKeyId: must be a key id string');
  else if (typeof targetKeyId === 'string' && policy && policy.statusOf(targetKeyId) === undefined) {
    problems.push(`targetKeyId: ${JSON.stringify(targetKeyId)} is not in the key catalog`);
  }
  const tenant = i.tenant ?? null;
  if (tenant !== null && (typeof tenant !== 'string' || tenant.length === 0))
    problems.push('tenant: must be a non-empty string');
  else if (tenant !== null && policy) {
    // A tenant execution moves the tenant's rows to the tenant's own active key: without one there is nothing to do.
    const keyOf = (t: string | null): string | undefined => {
      try {
        return policy.encryptionKeyId(t);
      } catch {
        return undefined; // no active key in that scope
      }
    };
    const own = keyOf(tenant);
    if (own === undefined || own === keyOf(null)) {
      problems.push(
        `tenant: ${JSON.stringify(tenant)} has no active key of its own (add one with \`rekey keys add --tenant ${tenant}\` and activate it)`,
      );
    }
  }
  if (problems.length > 0) throw new InvalidInputError(problems);
  return {
    mode: mode as Mode,
    tables,
    batchSize: batchSize as number,
    dryRun: dryRun as boolean,
    maxErrorRate: maxErrorRate as number,
    targetKeyId: targetKeyId as string | null,
    tenant: tenant as string | null,
  };
}

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
      ? await planFromJob(deps, planned.job, { runner: 'state-machine', region: planOptions.region })
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

export { KeyNotActiveError };
