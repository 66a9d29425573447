import {
  classifySqlState,
  DatabaseAuthenticationError,
  DatabaseConnectionError,
  DatabaseError,
  QueryError,
  ResultTooLargeError,
  SerializationError,
  StatementTimeoutError,
  UniqueViolationError,
  UnknownDatabaseError,
} from '../../ports/sql-errors';
import { withholdQuoted } from '../pg/errors';
import {
  DataApiConfigurationError,
  DataApiLimitError,
  DataApiTransactionError,
  errorName,
  messageOf,
  TRANSIENT,
} from './errors';

// Data API errors → the SQL port's errors, in named phases; the error classes and retry predicates stay in errors.ts.

/**
 * The service's wordings for a result over its 1 MiB response limit: the
 * troubleshooting guide's "Database response exceeded size limit", the
 * message "Database returned more than the allowed response size limit",
 * and UnsupportedResultException's "the size was too large" case.
 */
const RESULT_TOO_LARGE = /\b(response|result)\b[^.;]*?(size limit|too large|exceed)|\bsize (was |is )?too large\b/i;
/** A single row over the 64 KB row limit ("Packet for query is too large"): no smaller page helps. */
const ROW_TOO_LARGE = /packet for query is too large|row size limit|row larger than/i;

/**
 * A Data API error → the SQL port's errors, the same classes the pg adapter
 * raises for the same SQLSTATE. Messages keep the server's first line only
 * (PostgreSQL's DETAIL quotes row values) and, for data exceptions (SQLSTATE
 * class 22, whose messages quote the offending input), with quoted text
 * withheld — so no parameter value reaches a message.
 */
export function mapDataApiError(err: unknown, operation: string): unknown {
  if (err instanceof DatabaseError) return err;
  const name = errorName(err);
  const raw = messageOf(err);
  const sqlState = /SQLState: ([0-9A-Z]{5})/.exec(raw)?.[1];
  const message = firstLine(raw, sqlState);
  // PostgreSQL's DETAIL (in the service's message after the first line) quotes row values: the cause
  // keeps the error's name, first line and request metadata only, even for code that logs causes.
  const options = { cause: redactedCause(err, name, message) };
  const f: FailureText = { name, message, sqlState, operation, options };
  // Tried in this order, the first match wins: the exception name, then the message, the SQLSTATE and the network code.
  return configurationError(f) ?? statementError(f) ?? unavailableOrLimitError(f) ?? sqlOrNetworkError(err, f) ?? err;
}

/** What the mapping reads from a Data API error, and the redacted cause every mapped error keeps. */
interface FailureText {
  readonly name: string;
  /** The server's first line, quoted values withheld in data exceptions. */
  readonly message: string;
  readonly sqlState: string | undefined;
  readonly operation: string;
  readonly options: { cause: unknown };
}

/** The role, the secret or the cluster is set up wrong: fixed by configuration, not by a retry. */
function configurationError(f: FailureText): DatabaseError | undefined {
  const { name, message, operation, options } = f;
  switch (name) {
    case 'AccessDeniedException':
    case 'ForbiddenException':
      return new DatabaseAuthenticationError(
        `${operation} was denied (${message}): the role needs rds-data:${operation} on the cluster and secretsmanager:GetSecretValue on the database secret`,
        undefined,
        options,
      );
    case 'InvalidSecretException':
    case 'SecretsErrorException':
      return new DatabaseAuthenticationError(
        `the database secret could not be used (${message}): check DB_SECRET_ARN, that the secret holds username and password, and that the role may read and decrypt it`,
        undefined,
        options,
      );
    case 'HttpEndpointNotEnabledException':
      return new DataApiConfigurationError(
        `the Data API is not enabled on the cluster (${message}): enable it (EnableHttpEndpoint) or check DB_CLUSTER_ARN`,
        undefined,
        options,
      );
    case 'DatabaseNotFoundException':
    case 'NotFoundException':
    case 'InvalidResourceStateException':
      return new DataApiConfigurationError(
        `${operation}: the cluster or secret was not found or is not available (${message}): check DB_CLUSTER_ARN and DB_SECRET_ARN`,
        undefined,
        options,
      );
    default:
      return undefined;
  }
}

/** The service stopped or refused this statement or transaction. */
function statementError(f: FailureText): DatabaseError | undefined {
  const { name, message, operation, options } = f;
  switch (name) {
    case 'TransactionNotFoundException':
      return new DataApiTransactionError(
        `${operation}: the transaction is gone (${message}): it ended or sat idle past the Data API's 3 minutes`,
        undefined,
        options,
      );
    case 'StatementTimeoutException':
      // rekey never sets continueAfterTimeout, so the service stopped the statement: nothing of it stays.
      // Retryable (a lock or a scaling cluster may have held it up); when it keeps timing out the retries run out with this message.
      return new StatementTimeoutError(
        `${operation}: the statement ran past the Data API's 45 s timeout and was stopped; retry, or make it cheaper (a smaller batch size, an index on the id or key id column)`,
        undefined,
        options,
      );
    case 'InternalServerErrorException':
      return new DatabaseConnectionError(
        `${operation}: the Data API failed internally; the statement may or may not have run`,
        undefined,
        options,
      );
    case 'UnsupportedResultException':
      // Documented causes: an unsupported data type, a multidimensional array, or a result too large. Only the last is cured by a smaller page.
      if (RESULT_TOO_LARGE.test(message) && !ROW_TOO_LARGE.test(message)) {
        return new ResultTooLargeError(
          `${operation}: the Data API refused the result as too large (${message}): select fewer rows (smaller batches) or slice large values with substring()`,
          undefined,
          options,
        );
      }
      return new DataApiLimitError(
        `${operation}: the Data API cannot return this result (${message}): cast unsupported types to text (or select 1 for a function returning void), avoid multidimensional arrays, select fewer or smaller values`,
        undefined,
        options,
      );
    default:
      return undefined;
  }
}

/** The service unavailable after retries, or a request, row or result past a Data API size limit. */
function unavailableOrLimitError(f: FailureText): DatabaseError | undefined {
  const { name, message, sqlState, operation, options } = f;
  if (TRANSIENT.has(name)) {
    return new DatabaseConnectionError(
      `${operation}: the Data API is unavailable (${name}) after retries; retry later`,
      undefined,
      options,
    );
  }
  if (ROW_TOO_LARGE.test(message) && !sqlState) {
    return new DataApiLimitError(
      `${operation}: ${message}: a single row is over the Data API's 64 KB row limit; slice large values with substring()`,
      undefined,
      options,
    );
  }
  if (RESULT_TOO_LARGE.test(message) && !sqlState) {
    // Its own class: paging readers answer it with a smaller page (reencrypt/bounded-reads.ts).
    return new ResultTooLargeError(
      `${operation}: ${message}: select fewer rows (smaller batches) or slice large values with substring()`,
      undefined,
      options,
    );
  }
  if (/size limit|Request size|request (is )?too large/i.test(message) && !sqlState) {
    return new DataApiLimitError(
      `${operation}: ${message}: select fewer rows (smaller batches) or slice large values with substring()`,
      undefined,
      options,
    );
  }
  return undefined;
}

/** A transaction gone by the message's words, a PostgreSQL error by its SQLSTATE, or a network failure by its code. */
function sqlOrNetworkError(err: unknown, f: FailureText): DatabaseError | undefined {
  const { name, message, sqlState, operation, options } = f;
  if (/Transaction .* is not found/i.test(message)) {
    return new DataApiTransactionError(`${operation}: the transaction is gone (${message})`, undefined, options);
  }
  if (name === 'DatabaseErrorException' || name === 'BadRequestException') {
    return forSqlState(`${operation} failed: ${message}`, sqlState, options);
  }
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new DatabaseConnectionError(
      `${operation}: cannot reach the Data API endpoint (${code})`,
      undefined,
      options,
    );
  }
  return undefined;
}

/** The SQLSTATE → class table the pg adapter uses too (ports/sql-errors.ts), so callers see one behaviour. */
function forSqlState(message: string, sqlState: string | undefined, options: { cause: unknown }): DatabaseError {
  switch (classifySqlState(sqlState)) {
    case 'unique-violation':
      return new UniqueViolationError(message, sqlState, options);
    case 'serialization':
      return new SerializationError(`${message}: safe to retry`, sqlState, options);
    case 'unknown-database':
      return new UnknownDatabaseError(`${message}: fix DB_NAME`, sqlState, options);
    case 'authentication':
      return new DatabaseAuthenticationError(
        `${message}: check the credentials in the database secret`,
        sqlState,
        options,
      );
    case 'connection':
      return new DatabaseConnectionError(message, sqlState, options);
    case 'timeout':
      return new StatementTimeoutError(
        `${message}: the statement was cancelled by a statement timeout; retry, or make it cheaper`,
        sqlState,
        options,
      );
    case 'query':
      return new QueryError(message, sqlState, options);
  }
}

function redactedCause(err: unknown, name: string, message: string): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(message);
  copy.name = name || err.name;
  for (const k of ['$metadata', '$fault', 'code'] as const) {
    const v = (err as unknown as Record<string, unknown>)[k];
    if (v !== undefined) Object.assign(copy, { [k]: v });
  }
  return copy;
}

/** PostgreSQL's first line without the Data API's framing, values in data exceptions hidden. */
function firstLine(message: string, sqlState: string | undefined): string {
  const line = message
    .replace(/^Database error code: -?\d+\. Message: /, '')
    .split('\n')[0]!
    .replace(/;\s*SQLState:.*$/i, '')
    .trim();
  // The pg adapter's rule, so both adapters word it alike.
  return sqlState?.startsWith('22') ? withholdQuoted(line) : line;
}
