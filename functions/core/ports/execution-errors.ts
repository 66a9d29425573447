import { RekeyError } from '../errors';

/**
 * The execution could not be started. Retryable for throttling, 5xx and
 * network failures; otherwise (no such state machine, access denied, input
 * refused) the message names the state machine and what to fix.
 */
export class ExecutionStartError extends RekeyError {
  readonly code = 'EXECUTION_START';
  override readonly retryable: boolean;

  constructor(message: string, options: { readonly retryable: boolean; readonly cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}
