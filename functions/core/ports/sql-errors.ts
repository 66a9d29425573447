import { RekeyError } from '../errors';

/**
 * Errors of the SQL port, shared by the pg and Data API adapters. Messages say
 * what to fix; they never include statement parameters (which may be secrets
 * or ciphertexts). `sqlState` is PostgreSQL's SQLSTATE when there is one.
 */
export abstract class DatabaseError extends RekeyError {
  constructor(message: string, readonly sqlState?: string, options?: { cause?: unknown }) {
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
 * The transport refused a result as too large (the Data API returns at most
 * 1 MiB per statement). Readers that page (ports/bounded-reads.ts) answer it
 * by asking for fewer rows; anywhere else it fails: the same statement would
 * be refused again.
 */
export class ResultTooLargeError extends DatabaseError {
  readonly code = 'DB_RESULT_TOO_LARGE';
}
