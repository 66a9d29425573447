import { LOCAL_RUNTIME_SHAPE } from './pipeline-shape';

/**
 * What the local state-machine runtime (functions/local/pipeline.ts) spends
 * besides the rows, in seconds **on the reference machine** of the speed probe
 * (speed-probe.ts): the plan divides each by the probe's factor of the moment,
 * as it does the rows/s. Measured by `npx tsx bench/local-runtime.bench.ts`
 * (docs/performance.md, "Where the local runtime's time goes", its run of
 * 2026-12-04 15:05, load 17): each figure is the measured seconds × the probe
 * factor of its case (the mean of a probe before and after it), the median of
 * the cases that show it.
 * The rows themselves need no figure of their own: the same bench measured the
 * local runtime's batch phase at 0.86–1.21× the rows/s of one CLI worker beside
 * it (SQS round trips included), so the plan takes the CLI's one-worker rate.
 */
export const LOCAL_RUNTIME_COSTS = {
  /** Importing the handlers (AWS SDK clients, Powertools) on a process's first run: the first run's set-up minus the next's. */
  handlerLoadSeconds: 0.46,
  /** Each run: the queue and its DLQ created and deleted, the container runtime reset (0.05, 0.10, 0.20, 0.26), the pollers' last long poll apart. */
  runSeconds: 0.15,
  /** The five Task states of an execution (ValidateInput, Plan, Enqueue, Verify, Finalize) on a one-row table (0.07, 0.15). */
  executionTasksSeconds: 0.11,
  /** Enqueue's share per batch (SendMessageBatch of 10 to moto_server): 80 batches against 10. */
  enqueueBatchSeconds: 0.003,
  /** One CheckProgress (settle the job's counters from its batches): median of five runs. */
  checkSeconds: 0.017,
} as const;

export interface LocalRuntimeTime {
  /** Set-up and tear-down outside the execution, the handler load included when `coldStart`. */
  readonly setupSeconds: number;
  /** The Task states besides their scans. */
  readonly taskSeconds: number;
  /** From the last batch's end until the progress loop notices it: one poll interval. */
  readonly pollingSeconds: number;
  /** CheckProgress calls while the batches run (each a `waitMs` wait and a check). */
  readonly polls: number;
}

/**
 * The local runtime's time besides the batches and scans: the run's set-up
 * (the queues, and on a process's first run the handlers' import), the
 * long poll the pollers finish when the run stops them (wall-clock seconds,
 * not CPU: not scaled), the Task states (Enqueue's sends grow with the
 * batches), and the progress loop, which notices the end one poll interval
 * (a `waitMs` Wait + a check) after it.
 */
export function localRuntimeTime(
  batchPhaseSeconds: number,
  batches: number,
  speedFactor: number,
  options: { readonly coldStart: boolean } = { coldStart: true },
): LocalRuntimeTime {
  const c = LOCAL_RUNTIME_COSTS;
  const f = Math.max(1e-6, speedFactor);
  const interval = LOCAL_RUNTIME_SHAPE.waitMs / 1000 + c.checkSeconds / f;
  return {
    setupSeconds:
      ((options.coldStart ? c.handlerLoadSeconds : 0) + c.runSeconds) / f + LOCAL_RUNTIME_SHAPE.receiveWaitSeconds,
    taskSeconds: (c.executionTasksSeconds + batches * c.enqueueBatchSeconds) / f,
    pollingSeconds: batches > 0 ? interval : 0,
    polls: 1 + Math.ceil(batchPhaseSeconds / interval),
  };
}
