/**
 * The AWS pipeline's settings that its cost and duration depend on, as plain
 * numbers: lib/defaults.ts takes them from here (the CDK side), the planner
 * reads them here (the CLI does not load aws-cdk-lib). One definition each.
 */
export const PIPELINE_SHAPE = {
  /** Task functions (no crypto). */
  taskMemoryMiB: 512,
  /** The worker does the crypto: 1,769 MB = one vCPU. */
  workerMemoryMiB: 1769,
  /** Batches one Enqueue invocation sends (SendMessageBatch of 10). */
  enqueueBatchesPerInvocation: 10_000,
  /** SendMessageBatch carries at most 10 messages. */
  messagesPerSendBatch: 10,
  /** Messages (batches) per worker invocation. */
  workerBatchSize: 5,
  /** Concurrent worker invocations of the event source mapping. */
  maxConcurrency: 4,
  /** The progress loop's wait: clamp(ceil(elapsed × waitFraction), min, max) seconds. */
  progress: { minWaitSeconds: 30, maxWaitSeconds: 900, waitFraction: 0.05 },
} as const;

/**
 * State transitions of the re-encryption state machine (lib/reencryption-definition.ts),
 * one per state entered; test/infra/diagrams.test.ts walks the
 * synthesized definition and checks each figure.
 */
export const STATE_TRANSITIONS = {
  /** ReadInput, ValidateInput, Plan, IsDryRun, DryRunReport. */
  dryRun: 5,
  /** ReadInput, ValidateInput, Plan, IsDryRun; CheckProgress + ProgressDecision (first check); Verify, CanRetireOldKey, Finalize, Completed. */
  fixed: 10,
  /** Enqueue, AllBatchesEnqueued. */
  perEnqueue: 2,
  /** WaitForProgress, CheckProgress, ProgressDecision. */
  perPoll: 3,
} as const;

/** Progress polls (waits) of an execution whose batch phase runs `seconds`: each wait is clamp(ceil(elapsed × fraction), min, max). */
export function progressPolls(
  seconds: number,
  pacing: {
    readonly minWaitSeconds: number;
    readonly maxWaitSeconds: number;
    readonly waitFraction: number;
  } = PIPELINE_SHAPE.progress,
): number {
  let elapsed = 0;
  let polls = 0;
  while (elapsed < seconds) {
    elapsed += Math.min(
      pacing.maxWaitSeconds,
      Math.max(pacing.minWaitSeconds, Math.ceil(elapsed * pacing.waitFraction)),
    );
    polls += 1;
  }
  return polls;
}

/** Seconds the execution has waited after `polls` polls: when the loop notices the batches are done. */
export function secondsAfterPolls(polls: number, pacing = PIPELINE_SHAPE.progress): number {
  let elapsed = 0;
  for (let i = 0; i < polls; i++)
    elapsed += Math.min(
      pacing.maxWaitSeconds,
      Math.max(pacing.minWaitSeconds, Math.ceil(elapsed * pacing.waitFraction)),
    );
  return elapsed;
}

/**
 * The local state-machine runtime (functions/local/pipeline.ts): the same
 * definition and handlers as on AWS, run in one Node process with SQS in
 * moto_server. Its timing settings live here so the runtime and the planner
 * share one definition of each.
 */
export const LOCAL_RUNTIME_SHAPE = {
  /** Every Wait state of the definition waits this long locally instead of its seconds. */
  waitMs: 100,
  /** Retry pauses shortened to this. */
  retryIntervalMs: 10,
  /** The event source's long poll (ReceiveMessage WaitTimeSeconds): stopping the pollers waits up to this. */
  receiveWaitSeconds: 1,
  /** Concurrent SQS pollers (the event source mapping's maximum concurrency) unless told otherwise. */
  workers: 2,
  /** Execution ids of the local runtime begin with this (a deployed one names its region): how the job history tells them apart. */
  executionArnPrefix: 'arn:aws:states:local:',
} as const;
