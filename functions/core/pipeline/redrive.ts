import type { QueueMessage, QueuePort } from '../ports/queues';
import type { EngineDeps } from '../reencrypt/ports';
import { JobStateError } from '../reencrypt/errors';
import { getJob, resetFailedBatches, transitionJob, type JobRecord } from '../reencrypt/store/job-store';
import { batchMessageIds } from './stuck-batches';

/**
 * `rekey redrive JOB`: the way out of a stuck job (stuck-batches.ts).
 *
 * 1. reopenJob: the job goes back to `running` (its failed batches get their
 *    attempts back) and is handed to the execution about to resume it, so
 *    that execution's Plan finds it (jobs are idempotent on execution id) and
 *    its MarkFailed marks it. Done first: a worker acknowledges, without
 *    running it, a batch of a job that is not running.
 * 2. moveJobMessages: the job's messages go from the DLQ back to the batch
 *    queue (receive → send → delete; a crash between send and delete leaves a
 *    duplicate, which a batch tolerates: it is leased and done once).
 * 3. the caller starts the execution with resumeInput(job).
 */

/** Seconds another job's DLQ message stays hidden while this job's are picked out (released at the end). */
const PICK_HIDE_SECONDS = 120;

export interface MoveResult {
  /** Messages moved back to the batch queue. */
  readonly moved: number;
  /** Their batch ids, sorted. */
  readonly batchIds: readonly string[];
  /** DLQ messages of other jobs (or malformed), left where they are. */
  readonly left: number;
}

export async function moveJobMessages(
  queues: QueuePort,
  from: { deadLetterQueueUrl: string; queueUrl: string },
  jobId: string,
): Promise<MoveResult> {
  const others = new Map<string, QueueMessage>();
  const batchIds = new Set<string>();
  let moved = 0;
  try {
    // A short-poll receive may miss messages that exist (SQS samples its servers): stop after three empty ones.
    for (let empty = 0; empty < 3;) {
      const got = await queues.receive(from.deadLetterQueueUrl, 10, PICK_HIDE_SECONDS);
      const fresh = got.filter((m) => !others.has(m.id));
      if (fresh.length === 0) {
        empty += 1;
        continue;
      }
      empty = 0;
      const ours = fresh.filter((m) => batchMessageIds(m.body)?.jobId === jobId);
      for (const m of fresh) if (!ours.includes(m)) others.set(m.id, m);
      if (ours.length === 0) continue;
      await queues.send(
        from.queueUrl,
        ours.map((m) => m.body),
      );
      await queues.delete(from.deadLetterQueueUrl, ours);
      moved += ours.length;
      for (const m of ours) batchIds.add(batchMessageIds(m.body)!.batchId);
    }
  } finally {
    await queues.release(from.deadLetterQueueUrl, [...others.values()]);
  }
  return { moved, batchIds: [...batchIds].sort(), left: others.size };
}

/** Puts a failed (or still running) job back to `running` for `executionId`. Any other status is a JobStateError. */
export async function reopenJob(
  deps: Pick<EngineDeps, 'sql' | 'audit'> & { readonly actor?: string },
  jobId: string,
  executionId: string | null,
): Promise<JobRecord> {
  const job = await getJob(deps.sql, jobId);
  if (job.dryRun) throw new JobStateError(jobId, job.status, 'running', 'a dry run has nothing to redrive');
  if (job.status !== 'failed' && job.status !== 'running')
    throw new JobStateError(jobId, job.status, 'running', 'only a failed or running job can be redriven');
  return deps.sql.transaction(async (tx) => {
    const reopened =
      job.status === 'failed' ? await transitionJob(tx, jobId, ['failed'], 'running', { error: null }) : job;
    const reset = await resetFailedBatches(tx, jobId);
    if (executionId)
      await tx.query('UPDATE rekey_jobs SET execution_id = $2 WHERE id = $1::uuid', [jobId, executionId]);
    await deps.audit?.record(tx, {
      actor: deps.actor ?? 'rekey-cli',
      action: 'job.redriven',
      subject: `job:${jobId}`,
      details: { from: job.status, failedBatchesReset: reset, executionId },
    });
    return { ...reopened, executionId: executionId ?? reopened.executionId };
  });
}

/** The execution input that resumes `job`: its own options, so ValidateInput accepts it and Plan finds the job by execution id. */
export function resumeInput(job: JobRecord): Record<string, unknown> {
  return {
    mode: job.mode,
    tables: [...job.tables],
    batchSize: job.batchSize,
    maxErrorRate: job.maxErrorRate,
    targetKeyId: job.targetKeyId,
    ...(job.scope.kind === 'tenant' ? { tenant: job.scope.tenant } : {}),
  };
}

/** The ARN Step Functions gives execution `name` of `stateMachineArn` (…:stateMachine:M → …:execution:M:name). */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/** A fresh execution name for a redrive: `redrive-<job>-<time>`, within Step Functions' 80 characters. */
export function redriveExecutionName(jobId: string, now = new Date()): string {
  return `redrive-${jobId}-${now
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14)}`;
}
