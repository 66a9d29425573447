import { RekeyError } from '../errors';

/** Base of the state machine steps' errors. */
export abstract class PipelineError extends RekeyError {}

/**
 * The execution input is wrong. Not retryable: the state machine's Catch
 * routes it to MarkFailed → JobFailed, and the message lists every problem.
 */
export class InvalidInputError extends PipelineError {
  readonly code = 'INVALID_INPUT';
  constructor(readonly problems: readonly string[]) {
    super(`invalid execution input: ${problems.join('; ')}`);
  }
}

/** The job's batches ran out of attempts: the execution fails (MarkFailed → JobFailed); `rekey reencrypt --resume` picks it up. */
export class JobFailedError extends PipelineError {
  readonly code = 'JOB_FAILED';
  constructor(
    readonly jobId: string,
    reason: string,
  ) {
    super(`job ${jobId} failed: ${reason}`);
  }
}

/**
 * Batches of the job sit in the dead-letter queue with no worker on the job
 * (pipeline/stuck-batches.ts): no wait can finish it. Not retryable: the
 * execution fails through MarkFailed → JobFailed with this message, which
 * names the job, the batches and `rekey redrive JOB`.
 */
export class BatchesStuckError extends PipelineError {
  readonly code = 'BATCHES_STUCK';
  constructor(
    readonly jobId: string,
    readonly batchIds: readonly string[],
    message: string,
  ) {
    super(message);
  }
}
