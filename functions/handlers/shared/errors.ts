import { RekeyError } from '../../core/errors';

/** Base of the errors the Lambda entry points raise themselves (the domain's own errors pass through unchanged). */
export abstract class HandlerError extends RekeyError {}

/**
 * Another worker holds the batch's lease. Retryable: the record is reported
 * as a batch item failure, and SQS redelivers it after the visibility
 * timeout, by when the batch is done (acknowledged then) or its lease expired.
 */
export class BatchBusyError extends HandlerError {
  readonly code = 'BATCH_BUSY';
  override readonly retryable = true;
  constructor(
    readonly jobId: string,
    readonly batchId: string,
  ) {
    super(`job ${jobId}: batch ${batchId} is leased by another worker; retry later`);
  }
}

/**
 * Too little invocation time is left for another batch: the record is not
 * claimed, and is reported as a batch item failure so SQS delivers it again
 * (after the visibility timeout). Retryable, and no work was started.
 */
export class TimeBudgetError extends HandlerError {
  readonly code = 'TIME_BUDGET';
  override readonly retryable = true;
  constructor(
    readonly messageId: string,
    readonly remainingMs: number,
    readonly neededMs: number,
  ) {
    super(
      `message ${messageId} not claimed: ${remainingMs} ms of the invocation left, a batch needs ${neededMs} ms; SQS will deliver it again`,
    );
  }
}

/** A queue message that is not `{jobId, batchId}`. Not retryable: SQS moves it to the DLQ after maxReceiveCount, where it can be inspected. */
export class MalformedMessageError extends HandlerError {
  readonly code = 'MALFORMED_MESSAGE';
  constructor(
    readonly messageId: string,
    problem: string,
  ) {
    super(`message ${messageId}: ${problem}`);
  }
}
