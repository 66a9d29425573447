import { Token, type Duration } from 'aws-cdk-lib';
import { jobSettingProblems } from '../functions/core/job-settings';
import {
  FUNCTION_TIMEOUTS,
  JOB_DEFAULTS,
  PROGRESS_DEFAULTS,
  QUEUE_DEFAULTS,
  SCHEDULE_DEFAULTS,
  STATE_MACHINE_DEFAULTS,
  WORKER_BUDGET,
} from './defaults';
import type { PropsProblems } from './errors';
import { HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT, REFERENCE_ROWS, worstCaseHistoryEvents } from './history-budget';

/** The tunable settings of the pipeline (the stack passes them through as `pipeline`). */
export interface ReencryptionPipelineTuning {
  /**
   * Rows per batch when an execution input gives no batchSize.
   * @default JOB_DEFAULTS.batchSize (2000)
   */
  readonly batchSize?: number;
  /**
   * Share of failed rows (0–1) past which a job aborts, when the input gives none.
   * @default JOB_DEFAULTS.maxErrorRate (0.01)
   */
  readonly maxErrorRate?: number;
  /**
   * Maximum concurrent worker invocations (event source mapping maximumConcurrency, 2–1000):
   * size it to the database and the KMS request quota.
   * @default QUEUE_DEFAULTS.maxConcurrency (4)
   */
  readonly maxConcurrency?: number;
  /**
   * Batch messages per worker invocation (1–10).
   * @default QUEUE_DEFAULTS.workerBatchSize (5)
   */
  readonly workerBatchSize?: number;
  /**
   * Deliveries of a batch message before it moves to the DLQ (1–1000).
   * @default QUEUE_DEFAULTS.maxReceiveCount (5)
   */
  readonly maxReceiveCount?: number;
  /**
   * Worker timeout; the queue's visibility timeout is 6 × this. At least one batch's budget
   * (WORKER_BUDGET: a 45 s Data API statement plus retries) and start-up; at most 15 minutes.
   * @default FUNCTION_TIMEOUTS.worker (3 minutes)
   */
  readonly workerTimeout?: Duration;
  /**
   * Reserved concurrency of the worker. Off by default: maximumConcurrency already caps
   * SQS-driven invocations, and reserving fails deployment in accounts with a low
   * concurrency quota. When set it must be ≥ maxConcurrency.
   * @default - unreserved
   */
  readonly workerReservedConcurrency?: number;
  /**
   * Batches one Enqueue invocation sends.
   * @default JOB_DEFAULTS.enqueueBatchesPerInvocation (10,000)
   */
  readonly enqueueBatchesPerInvocation?: number;
  /**
   * Shortest wait of the progress loop, in seconds.
   * @default PROGRESS_DEFAULTS.minWaitSeconds (30)
   */
  readonly progressMinWaitSeconds?: number;
  /**
   * Longest wait of the progress loop, in seconds.
   * @default PROGRESS_DEFAULTS.maxWaitSeconds (900)
   */
  readonly progressMaxWaitSeconds?: number;
  /**
   * Execution timeout: at most the 14-day SQS retention of the batch messages.
   * @default STATE_MACHINE_DEFAULTS.executionTimeout (14 days)
   */
  readonly executionTimeout?: Duration;
  /**
   * Days a key may stay `rotating` with rows under it before the inventory reports them overdue.
   * @default SCHEDULE_DEFAULTS.retiringKeyGraceDays (7)
   */
  readonly retiringKeyGraceDays?: number;
}

export interface PipelineSettings {
  batchSize: number;
  maxErrorRate: number;
  maxConcurrency: number;
  workerBatchSize: number;
  maxReceiveCount: number;
  workerTimeout: Duration;
  enqueueBatchesPerInvocation: number;
  minWaitSeconds: number;
  maxWaitSeconds: number;
  executionTimeout: Duration;
  retiringKeyGraceDays: number;
}

/** Adds a problem for every invalid tunable, and returns the settings with defaults applied. */
export function checkPipelineProps(problems: PropsProblems, props: ReencryptionPipelineTuning): PipelineSettings {
  const s: PipelineSettings = {
    batchSize: props.batchSize ?? JOB_DEFAULTS.batchSize,
    maxErrorRate: props.maxErrorRate ?? JOB_DEFAULTS.maxErrorRate,
    maxConcurrency: props.maxConcurrency ?? QUEUE_DEFAULTS.maxConcurrency,
    workerBatchSize: props.workerBatchSize ?? QUEUE_DEFAULTS.workerBatchSize,
    maxReceiveCount: props.maxReceiveCount ?? QUEUE_DEFAULTS.maxReceiveCount,
    workerTimeout: props.workerTimeout ?? FUNCTION_TIMEOUTS.worker,
    enqueueBatchesPerInvocation: props.enqueueBatchesPerInvocation ?? JOB_DEFAULTS.enqueueBatchesPerInvocation,
    minWaitSeconds: props.progressMinWaitSeconds ?? PROGRESS_DEFAULTS.minWaitSeconds,
    maxWaitSeconds: props.progressMaxWaitSeconds ?? PROGRESS_DEFAULTS.maxWaitSeconds,
    executionTimeout: props.executionTimeout ?? STATE_MACHINE_DEFAULTS.executionTimeout,
    retiringKeyGraceDays: props.retiringKeyGraceDays ?? SCHEDULE_DEFAULTS.retiringKeyGraceDays,
  };
  // One validator with the engine's (core/job-settings.ts); tokens are checked at deploy time, not here.
  const resolved = (value: number | undefined): number | undefined =>
    value === undefined || Token.isUnresolved(value) ? undefined : value;
  const bounded = jobSettingProblems(
    {
      batchSize: resolved(s.batchSize),
      maxErrorRate: resolved(s.maxErrorRate),
      maxConcurrency: resolved(s.maxConcurrency),
      workerBatchSize: resolved(s.workerBatchSize),
      maxReceiveCount: resolved(s.maxReceiveCount),
      enqueueBatchesPerInvocation: resolved(s.enqueueBatchesPerInvocation),
      progressMinWaitSeconds: resolved(s.minWaitSeconds),
      progressMaxWaitSeconds: resolved(s.maxWaitSeconds),
      retiringKeyGraceDays: resolved(s.retiringKeyGraceDays),
      workerReservedConcurrency: resolved(props.workerReservedConcurrency),
    },
    String,
  );
  for (const { setting, problem } of bounded) problems.add(setting, problem);
  problems.check(
    s.minWaitSeconds <= s.maxWaitSeconds,
    'progressMaxWaitSeconds',
    `must be ≥ progressMinWaitSeconds (${s.minWaitSeconds}), got ${s.maxWaitSeconds}`,
  );
  if (!Token.isUnresolved(s.workerTimeout.toSeconds({ integral: false }))) {
    const seconds = s.workerTimeout.toSeconds({ integral: false });
    const min = WORKER_BUDGET.batchBudget.toSeconds() + WORKER_BUDGET.startup.toSeconds();
    problems.check(
      Number.isInteger(seconds) && seconds >= min && seconds <= 900,
      'workerTimeout',
      `must be whole seconds from ${min} s (one batch's budget: a ${WORKER_BUDGET.dataApiStatement.toSeconds()} s Data API statement plus retries, and start-up) to 15 minutes, got ${seconds} s`,
    );
  }
  const maxTimeout = QUEUE_DEFAULTS.retention.toDays();
  problems.check(
    s.executionTimeout.toSeconds() >= 60 && s.executionTimeout.toDays({ integral: false }) <= maxTimeout,
    'executionTimeout',
    `must be from 1 minute to ${maxTimeout} days (the SQS retention of batch messages), got ${s.executionTimeout.toHumanString()}`,
  );
  const pacingValid =
    s.minWaitSeconds >= 1 &&
    s.maxWaitSeconds >= s.minWaitSeconds &&
    s.batchSize >= 1 &&
    s.enqueueBatchesPerInvocation >= 1;
  if (pacingValid && !Token.isUnresolved(s.executionTimeout.toSeconds())) {
    const events = worstCaseHistoryEvents({
      minWaitSeconds: s.minWaitSeconds,
      maxWaitSeconds: s.maxWaitSeconds,
      waitFraction: PROGRESS_DEFAULTS.waitFraction,
      timeoutSeconds: s.executionTimeout.toSeconds(),
      rows: REFERENCE_ROWS,
      batchSize: s.batchSize,
      batchesPerEnqueue: s.enqueueBatchesPerInvocation,
    });
    problems.check(
      events <= HISTORY_EVENT_BUDGET,
      'progressMaxWaitSeconds',
      `with executionTimeout ${s.executionTimeout.toHumanString()} an execution over ${REFERENCE_ROWS.toLocaleString('en')} rows may record ${events} history events; keep it under ${HISTORY_EVENT_BUDGET} (of ${HISTORY_EVENT_LIMIT}) by waiting longer between progress checks or shortening executionTimeout`,
    );
  }
  if (props.workerReservedConcurrency !== undefined) {
    problems.check(
      props.workerReservedConcurrency >= s.maxConcurrency,
      'workerReservedConcurrency',
      `must be ≥ maxConcurrency (${s.maxConcurrency}), or the event source mapping is throttled; got ${props.workerReservedConcurrency}`,
    );
  }
  return s;
}
