import { RekeyError } from '../errors';

/**
 * The narrow slice of a message queue rekey uses around its batch queue and
 * its dead-letter queue: how deep a queue is, reading messages without
 * consuming them (CheckProgress looks for a job's batches in the DLQ), and
 * moving messages (`rekey redrive`). `adapters/aws-sqs.ts` implements it over
 * @aws-sdk/client-sqs. Bodies are the batch messages `{jobId, batchId}`: ids only.
 */
export interface QueueMessage {
  readonly id: string;
  readonly body: string;
  /** Handle of this receive: delete or release the message with it. */
  readonly receiptHandle: string;
}

export interface QueueDepth {
  /** Messages waiting to be received (approximate, as SQS reports it). */
  readonly visible: number;
  /** Messages received and not yet deleted or released. */
  readonly inFlight: number;
}

export interface QueuePort {
  depth(queueUrl: string): Promise<QueueDepth>;
  /** Up to 10 messages, hidden from other receivers for `hideSeconds` unless released or deleted first. */
  receive(queueUrl: string, max: number, hideSeconds: number): Promise<QueueMessage[]>;
  /** Makes received messages visible again at once (nothing is consumed). */
  release(queueUrl: string, messages: readonly QueueMessage[]): Promise<void>;
  /** Sends bodies (at most 10) as new messages. */
  send(queueUrl: string, bodies: readonly string[]): Promise<void>;
  /** Deletes received messages (at most 10). */
  delete(queueUrl: string, messages: readonly QueueMessage[]): Promise<void>;
}

/** A queue call failed. Retryable for throttling, 5xx and network failures; otherwise the message names the queue and what to fix. */
export class QueueError extends RekeyError {
  readonly code: string = 'QUEUE';
  override readonly retryable: boolean;

  constructor(message: string, options: { readonly retryable: boolean; readonly cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/**
 * The queue refused `failed` of the `sent` messages of one send (the others
 * went). Retryable unless the queue blamed the sender for every refusal: the
 * Enqueue task is retried as a whole and batches tolerate being sent twice.
 */
export class QueueSendError extends QueueError {
  override readonly code = 'QUEUE_SEND';
  constructor(
    message: string,
    readonly failed: number,
    readonly sent: number,
    options: { readonly retryable: boolean },
  ) {
    super(message, options);
  }
}
