import { DatabaseError } from '../../ports/sql-errors';

/** The cluster, secret or Data API set-up is wrong: nothing to retry until someone fixes the configuration. */
export class DataApiConfigurationError extends DatabaseError {
  readonly code = 'DB_DATA_API_CONFIGURATION';
}

/** A request or row would pass a Data API size limit (4 MiB request, 64 KB row). A whole result over 1 MiB is the port's ResultTooLargeError. */
export class DataApiLimitError extends DatabaseError {
  readonly code = 'DB_DATA_API_LIMIT';
}

/** A parameter value the Data API cannot carry (not a finite number, an unsupported type). Names the parameter, never its value. */
export class DataApiParameterError extends DatabaseError {
  readonly code = 'DB_DATA_API_PARAMETER';
}

/** The transaction id is unknown to the Data API: it ended, or sat idle past the service's 3 minutes. */
export class DataApiTransactionError extends DatabaseError {
  readonly code = 'DB_DATA_API_TRANSACTION';
}

/**
 * Errors after which the same request may be sent again because the statement
 * did not run: throttling, the service or the writer briefly unavailable, an
 * Aurora Serverless cluster resuming from a pause. A statement timeout or an
 * internal error is not here: the statement may have run.
 */
export const TRANSIENT = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceUnavailableError',
  'DatabaseUnavailableException',
  'DatabaseResumingException',
]);

export function isTransientDataApiError(err: unknown): boolean {
  return TRANSIENT.has(errorName(err)) || isTransactionBusy(err);
}

/**
 * The service refuses a call on a transaction that is still running another
 * (DatabaseErrorException "Transaction is still running a query") before
 * running it; its documented remedy is to wait and send it again. The
 * adapter sends one call at a time per transaction, so this is a safety net.
 */
function isTransactionBusy(err: unknown): boolean {
  return errorName(err) === 'DatabaseErrorException' && /transaction is still running a query/i.test(messageOf(err));
}

/** Attempts in all while an Aurora Serverless cluster resumes from a pause (15–30 s, sometimes more). */
export const RESUMING_ATTEMPTS = 15;

/** The cluster is resuming from a pause: nothing ran, and it answers once it is up. */
export function isResumingError(err: unknown): boolean {
  return errorName(err) === 'DatabaseResumingException';
}

/** Throttled: the request was refused before anything ran, so even a commit may be sent again. */
export function isThrottlingError(err: unknown): boolean {
  const name = errorName(err);
  return name === 'ThrottlingException' || name === 'TooManyRequestsException';
}

export function messageOf(err: unknown): string {
  const message = (err as { message?: unknown })?.message;
  return typeof message === 'string' ? message : '';
}

export function errorName(err: unknown): string {
  const name = (err as { name?: unknown })?.name;
  return typeof name === 'string' ? name : '';
}
