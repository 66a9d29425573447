import { RekeyError } from '../errors';

/**
 * Errors of the SQL port, shared by the pg and Data API adapters. Messages say
 * what to fix; they never include statement parameters (which may be secrets
 * or ciphertexts). `sqlState` is PostgreSQL's SQLSTATE when there is one.
 */
export abstract class DatabaseError extends RekeyError {
  constructor(
    message: string,
    readonly sqlState?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server could not be reached (refused, DNS, timeout, TLS handshake). Retryable: it may come back. */
export class DatabaseConnectionError extends DatabaseError {
  readonly code = 'DB_CONNECTION';
  override readonly retryable = true;
}

/** Wrong user or password, or the server refused TLS/non-TLS as configured. */
export class DatabaseAuthenticationError extends DatabaseError {
  readonly code = 'DB_AUTHENTICATION';
}

/** The database named in the URL does not exist. */
export class UnknownDatabaseError extends DatabaseError {
  readonly code = 'DB_UNKNOWN_DATABASE';
}

/** Serialization failure or deadlock: the transaction can be run again as it is. */
export class SerializationError extends DatabaseError {
  readonly code = 'DB_SERIALIZATION';
  override readonly retryable = true;
}

/** A unique constraint refused the row. */
export class UniqueViolationError extends DatabaseError {
  readonly code = 'DB_UNIQUE_VIOLATION';
}

/** Any other statement error (syntax, missing table, check constraint, ...). */
export class QueryError extends DatabaseError {
  readonly code = 'DB_QUERY';
}

/**
 * A statement ran past the server's or the transport's statement timeout
 * (the Data API stops a statement after 45 s) and was cancelled: nothing of
 * it stays. Retryable: the same statement may pass once a lock is released
 * or a scaling cluster has capacity; if it keeps timing out, the retries run
 * out and the message says what to make cheaper.
 */
export class StatementTimeoutError extends DatabaseError {
  readonly code = 'DB_STATEMENT_TIMEOUT';
  override readonly retryable = true;
}

/**
 * The transport refused a result as too large (the Data API returns at most
 * 1 MiB per statement). Readers that page (reencrypt/bounded-reads.ts) answer it
 * by asking for fewer rows; anywhere else it fails: the same statement would
 * be refused again.
 */
export class ResultTooLargeError extends DatabaseError {
  readonly code = 'DB_RESULT_TOO_LARGE';
}

/** What a SQLSTATE means to rekey: which port error it becomes, and so whether it is retried. */
export type SqlStateClass =
  'authentication' | 'unknown-database' | 'serialization' | 'unique-violation' | 'connection' | 'timeout' | 'query';

/**
 * One SQLSTATE → class table for both adapters, so the same server answer is
 * the same error (and the same retry decision) over pg and the Data API.
 * `connection` is what a retry can cure: connection exceptions (class 08),
 * the server shutting down or restarting (57P01 admin, 57P02 crash, 57P03
 * cannot connect now) and too many connections (53300). `timeout` is 57014,
 * a statement cancelled by statement_timeout.
 */
export function classifySqlState(sqlState: string | undefined): SqlStateClass {
  if (sqlState === undefined) return 'query';
  if (sqlState === '28P01' || sqlState === '28000') return 'authentication';
  if (sqlState === '3D000') return 'unknown-database';
  if (sqlState === '40001' || sqlState === '40P01') return 'serialization';
  if (sqlState === '23505') return 'unique-violation';
  // query_canceled: what statement_timeout raises (rekey cancels no statement of its own).
  if (sqlState === '57014') return 'timeout';
  if (
    sqlState.startsWith('08') ||
    sqlState === '57P01' ||
    sqlState === '57P02' ||
    sqlState === '57P03' ||
    sqlState === '53300'
  )
    return 'connection';
  return 'query';
}
