import {
  DatabaseAuthenticationError,
  DatabaseConnectionError,
  DatabaseError,
  QueryError,
  SerializationError,
  StatementTimeoutError,
  UniqueViolationError,
  UnknownDatabaseError,
  classifySqlState,
} from '../../ports/sql-errors';

/** Network-level failures node reports before PostgreSQL says anything. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

interface PgErrorFields {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly severity?: unknown;
  readonly table?: unknown;
  readonly constraint?: unknown;
}

/**
 * A node-postgres or network error → the SQL port's errors (the same classes
 * the Data API adapter raises for the same SQLSTATE). The message is the
 * server's own, which names objects and constraints; PostgreSQL's DETAIL
 * (which quotes row values) is left out, and in data exceptions (SQLSTATE
 * class 22, e.g. `invalid input syntax for type integer: "…"`) quoted input is
 * withheld — so no statement parameter reaches a message. `cause` keeps the
 * original for debugging.
 */
export function mapPgError(err: unknown): unknown {
  if (err instanceof DatabaseError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as PgErrorFields;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const raw = typeof e.message === 'string' ? e.message : String(err);
  // The server answered (a SQLSTATE and a severity): map by SQLSTATE; otherwise the client could not reach it.
  if (code && /^[0-9A-Z]{5}$/.test(code) && typeof e.severity === 'string') return serverError(err, e, code, raw);
  return clientError(code, raw, { cause: err }) ?? err;
}

/** An error the server sent, by its SQLSTATE class; the cause is a redacted copy. */
function serverError(err: unknown, e: PgErrorFields, code: string, raw: string): DatabaseError {
  const message = serverMessage(raw, code);
  // The server's DETAIL and WHERE quote row values (`Key (email)=(…) already exists`): the cause
  // keeps what debugging needs and nothing that may be a secret, even for code that logs causes.
  const options = { cause: redactedServerError(err as Error, message, e) };
  switch (classifySqlState(code)) {
    case 'authentication':
      return new DatabaseAuthenticationError(
        `the database refused the login (${message}): check the user and password in the database URL, that the role may log in, and whether pg_hba.conf requires TLS (sslmode=require)`,
        code,
        options,
      );
    case 'unknown-database':
      return new UnknownDatabaseError(`${message}: create it, or fix the database name in the URL`, code, options);
    case 'serialization':
      return new SerializationError(
        `transaction conflict (${message}): safe to run the transaction again`,
        code,
        options,
      );
    case 'unique-violation': {
      const constraint = typeof e.constraint === 'string' ? ` ${e.constraint}` : '';
      const table = typeof e.table === 'string' ? ` on ${e.table}` : '';
      return new UniqueViolationError(
        `unique constraint${constraint}${table} refused the row: a row with the same key exists`,
        code,
        options,
      );
    }
    case 'connection':
      return new DatabaseConnectionError(
        `lost or refused the database connection (${message}): retry once the server is available`,
        code,
        options,
      );
    case 'timeout':
      return new StatementTimeoutError(
        `${message}: the statement ran past statement_timeout and was cancelled; retry, or make it cheaper (a smaller batch size, an index on the id or key id column)`,
        code,
        options,
      );
    case 'query':
      break;
  }
  return new QueryError(message, code, options);
}

/** The client could not reach the server, or TLS or the connection failed; undefined when it is none of these. */
function clientError(
  code: string | undefined,
  raw: string,
  options: { cause: unknown },
): DatabaseConnectionError | undefined {
  if (code && UNREACHABLE.has(code)) {
    return new DatabaseConnectionError(
      `cannot reach the database (${code}): check host and port in the database URL, and that PostgreSQL is running and accepts TCP connections from here`,
      undefined,
      options,
    );
  }
  if (/\bSSL\b|\bTLS\b|certificate|self[- ]signed|Hostname\/IP does not match/i.test(raw)) {
    return new DatabaseConnectionError(
      `TLS problem connecting to the database (${raw}): check sslmode, sslrootcert (the CA that signed the server certificate) and, for verify-full, that the host name is in the certificate`,
      undefined,
      options,
    );
  }
  if (
    /timeout exceeded when trying to connect|Connection terminated|connection error and is not queryable|Client was closed/i.test(
      raw,
    )
  ) {
    return new DatabaseConnectionError(
      `cannot reach the database (${raw}): check that PostgreSQL is running and reachable`,
      undefined,
      options,
    );
  }
  return undefined;
}

/** A copy of a server error without DETAIL, WHERE, HINT or the query text: code, severity and object names only. */
function redactedServerError(err: Error, message: string, fields: PgErrorFields): Error {
  const copy = new Error(message);
  copy.name = err.name;
  const keep = ['code', 'severity', 'table', 'column', 'constraint', 'schema', 'dataType', 'routine'] as const;
  for (const k of keep) {
    const v = (fields as Record<string, unknown>)[k];
    if (typeof v === 'string') Object.assign(copy, { [k]: v });
  }
  return copy;
}

/** The server's message, first line only, with quoted input withheld for data exceptions. */
function serverMessage(message: string, sqlState: string): string {
  const line = message.split('\n', 1)[0] ?? '';
  return sqlState.startsWith('22') ? withholdQuoted(line) : line;
}

/**
 * `invalid input syntax for type uuid: "s3cret"` → `… uuid: (input withheld)`;
 * `invalid byte sequence for encoding "UTF8": 0xe2 0x28` loses its bytes too.
 * Only applied to data exceptions: elsewhere quotes hold object names.
 */
export function withholdQuoted(line: string): string {
  return line
    .replace(/"(?:[^"]|"")*"/g, '(input withheld)')
    .replace(/0x[0-9a-f]{2}(?:\s+0x[0-9a-f]{2})*/gi, '(input withheld)');
}
