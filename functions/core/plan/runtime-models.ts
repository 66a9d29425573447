import { localRuntimeTime } from './local-runtime';
import { OPERATIONS, valuesMoving, type OperationCounts } from './operations';
import { LOCAL_RUNTIME_SHAPE, PIPELINE_SHAPE, progressPolls, secondsAfterPolls } from './pipeline-shape';
import type { PlanSettings } from './estimate';
import type { Throughput } from './throughput';

/**
 * The time model of each runner (docs/decisions.md, "The plan models the
 * runtime that runs the job"): what a job spends besides its batches and
 * scans on the CLI, on AWS and on the local state-machine runtime.
 */

/** Seconds an AWS task function runs besides scanning (cold start, Data API round trips). */
export const TASK_SECONDS = 1;

/**
 * Rows/s of the job's mix of operations: with per-operation defaults, the
 * time of each operation's values at its own rate (a Fernet table rotated in
 * place is re-encrypted, not rewrapped, whatever its mode); a calibrated
 * figure already measured the mode's mix.
 */
export function mixedRate(t: Throughput, ops: OperationCounts): number {
  const moving = valuesMoving(ops);
  if (!t.perOperation || moving === 0) return t.rowsPerSecond;
  const per = t.perOperation;
  return moving / OPERATIONS.reduce((a, op) => a + ops[op] / Math.max(1e-9, per[op]), 0);
}

/** The runner's time besides the batches and scans, and the model's name. */
export function runtimeTime(
  s: PlanSettings,
  batchPhaseSeconds: number,
  batches: number,
): { polls: number; pollingSeconds: number; runtimeSeconds: number; model: string } {
  if (s.runner === 'state-machine') {
    const polls = batches > 0 ? progressPolls(batchPhaseSeconds) : 0;
    return {
      polls,
      // The state machine notices the end at its next poll, not when the last batch finishes.
      pollingSeconds: Math.max(0, secondsAfterPolls(polls) - batchPhaseSeconds),
      runtimeSeconds: 6 * TASK_SECONDS,
      model: `AWS: ${s.concurrency} Lambda workers of one vCPU each, Wait states of ≥ ${PIPELINE_SHAPE.progress.minWaitSeconds} s between progress polls, ${TASK_SECONDS} s per task function`,
    };
  }
  if (s.runner === 'local-state-machine') {
    const coldStart = s.coldStart ?? true;
    const t = localRuntimeTime(batchPhaseSeconds, batches, s.speedFactor ?? 1, { coldStart });
    return {
      polls: batches > 0 ? t.polls : 0,
      pollingSeconds: t.pollingSeconds,
      runtimeSeconds: t.setupSeconds + t.taskSeconds,
      model: `local state-machine runtime: one Node thread for every handler and worker (${s.concurrency} SQS pollers overlap only their waits), SQS in moto_server, ${LOCAL_RUNTIME_SHAPE.waitMs} ms waits; its fixed costs scaled by this machine's speed (×${(s.speedFactor ?? 1).toFixed(2)})${coldStart ? ', handlers imported (a process’s first run)' : ''}`,
    };
  }
  return {
    polls: 0,
    pollingSeconds: 0,
    runtimeSeconds: 0,
    model: `CLI job runner: ${s.concurrency} worker thread${s.concurrency === 1 ? '' : 's'} on this machine`,
  };
}
