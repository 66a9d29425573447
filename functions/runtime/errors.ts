import { RekeyError } from '../core/errors';

/** Base of the errors the containers raise while building a process's dependencies from its environment. */
export abstract class RuntimeConfigurationError extends RekeyError {}

/**
 * The function's environment lacks what it needs (JOB_QUEUE_URL, the
 * database variables...). Not retryable: a deployment problem, which the
 * state machine's Catch routes to MarkFailed.
 */
export class HandlerConfigError extends RuntimeConfigurationError {
  readonly code = 'HANDLER_CONFIG';
  constructor(
    readonly missing: readonly string[],
    detail = '',
  ) {
    super(`missing environment: ${missing.join(', ')}${detail ? ` ${detail}` : ''}`);
  }
}
