import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import type { Sql, SqlLimits, SqlResult, SqlValue } from '../ports/sql';
import {
  checkSqlLength,
  DATA_API_MAX_REQUEST_BYTES,
  DATA_API_MAX_RESPONSE_BYTES,
  splitParameterSets,
} from './data-api/batch';
import {
  DataApiParameterError,
  isResumingError,
  isThrottlingError,
  isTransientDataApiError,
  mapDataApiError,
  RESUMING_ATTEMPTS,
} from './data-api/errors';
import { rewritePositional } from './data-api/positional';
import { withRetry, type RetryPolicy } from './data-api/retry';
import { serialQueue, type OpenTransaction } from './data-api/serial';
import { decodeField, encodeParameter } from './data-api/values';

export {
  DataApiConfigurationError,
  DataApiLimitError,
  DataApiParameterError,
  DataApiTransactionError,
} from './data-api/errors';

export interface DataApiSqlOptions {
  /** @default a new RDSDataClient with the SDK's own retries off (this adapter retries) */
  readonly client?: RDSDataClient;
  /** ARN of the Aurora cluster (Data API enabled). */
  readonly resourceArn: string;
  /** ARN of the Secrets Manager secret holding the database credentials. */
  readonly secretArn: string;
  readonly database: string;
  /** Passed to the Data API as is; it documents `schema` as unsupported for PostgreSQL (use the role's search_path). */
  readonly schema?: string;
  /** Size limit of one BatchExecuteStatement request, headers included. @default 4 MiB (the service's limit) */
  readonly maxBatchBytes?: number;
  /** Size limit of one result, which the engine sizes its reads to. @default 1 MiB (the service's limit) */
  readonly maxResponseBytes?: number;
  /**
   * Attempts for transient errors (throttling, a briefly unavailable writer).
   * A cluster resuming from a pause (DatabaseResumingException) gets
   * RESUMING_ATTEMPTS with five times the backoff (about 30 s in all, what
   * an Aurora Serverless v2 resume from 0 ACUs takes).
   * @default 6
   */
  readonly maxAttempts?: number;
  /** Ceiling of the first backoff in ms; doubles per attempt, full jitter, capped at 5 s. @default 200 */
  readonly baseDelayMs?: number;
}

/** What executeBatch did. */
export interface BatchResult {
  readonly parameterSets: number;
  /** BatchExecuteStatement requests it took to stay within the request size limit. */
  readonly requests: number;
}

/** The Sql port plus the Data API's batch statement. */
export interface DataApiSql extends Sql {
  /**
   * Runs one DML statement once per parameter set with BatchExecuteStatement,
   * split into as many requests as the size limit needs. All-or-nothing: outside
   * a transaction it opens one around the requests.
   */
  executeBatch(text: string, parameterSets: readonly (readonly SqlValue[])[]): Promise<BatchResult>;
  transaction<T>(fn: (tx: DataApiSql) => Promise<T>): Promise<T>;
}

export interface DataApiSqlPool extends DataApiSql {
  close(): Promise<void>;
}

/**
 * The Sql port over the RDS Data API. `$n` parameters become `:pN` (a small
 * tokenizer leaves literals, dollar quotes and comments alone), values become
 * typed Data API values (see data-api/values.ts; arrays travel as JSON
 * expanded in SQL), and results come back shaped like the pg adapter's: int8
 * and numeric as strings (the service is asked for LONG and DECIMAL as
 * strings), bytea as Buffer, timestamps as Date, json parsed.
 *
 * transaction() uses Begin/Commit/RollbackTransaction and sends the
 * transaction id with every statement; a nested transaction() is a SAVEPOINT.
 * Transient errors (isTransientDataApiError) are retried with bounded
 * exponential backoff; everything else becomes a DatabaseError from
 * ports/sql-errors or data-api/errors whose message never holds a parameter
 * value.
 */
export function createDataApiSql(options: DataApiSqlOptions): DataApiSqlPool {
  const ownClient = options.client === undefined;
  // One retry policy, not the SDK's and ours multiplied: the SDK would also retry a 500, after which a statement may have run twice.
  const client = options.client ?? new RDSDataClient({ maxAttempts: 1 });
  const baseDelayMs = options.baseDelayMs ?? 200;
  const usual: RetryPolicy = { maxAttempts: options.maxAttempts ?? 6, baseDelayMs, maxDelayMs: 5_000 };
  const resuming: RetryPolicy = {
    maxAttempts: Math.max(usual.maxAttempts, RESUMING_ATTEMPTS),
    baseDelayMs: baseDelayMs * 5,
    maxDelayMs: Math.min(5_000, baseDelayMs * 25),
  };
  const policy = (err: unknown): RetryPolicy => (isResumingError(err) ? resuming : usual);
  const maxBatchBytes = options.maxBatchBytes ?? DATA_API_MAX_REQUEST_BYTES;
  const limits: SqlLimits = {
    maxRequestBytes: maxBatchBytes,
    maxResponseBytes: options.maxResponseBytes ?? DATA_API_MAX_RESPONSE_BYTES,
  };
  const target = { resourceArn: options.resourceArn, secretArn: options.secretArn };
  const database = { database: options.database, ...(options.schema ? { schema: options.schema } : {}) };

  const call = async <T>(
    operation: string,
    fn: () => Promise<T>,
    isTransient = isTransientDataApiError,
  ): Promise<T> => {
    try {
      return await withRetry(fn, isTransient, policy);
    } catch (err) {
      throw mapDataApiError(err, operation);
    }
  };

  const query = async <Row>(
    text: string,
    params: readonly SqlValue[] | undefined,
    transactionId: string | undefined,
  ): Promise<SqlResult<Row>> => {
    const { sql, parameters } = encodeStatement(text, params ?? []);
    const output = await call('ExecuteStatement', () =>
      client.send(
        new ExecuteStatementCommand({
          ...target,
          ...database,
          sql,
          parameters,
          includeResultMetadata: true,
          resultSetOptions: { longReturnType: 'STRING', decimalReturnType: 'STRING' },
          ...(transactionId ? { transactionId } : {}),
        }),
      ),
    );
    const columns = output.columnMetadata ?? [];
    const rows = (output.records ?? []).map((record) => {
      const row: Record<string, unknown> = {};
      record.forEach((field, i) => {
        row[columns[i]?.label ?? columns[i]?.name ?? `?column?${i + 1}`] = decodeField(field, columns[i]);
      });
      return row as Row;
    });
    return { rows, rowCount: output.records ? rows.length : Number(output.numberOfRecordsUpdated ?? 0) };
  };

  const batch = async (
    text: string,
    sets: readonly (readonly SqlValue[])[],
    transactionId: string,
  ): Promise<number> => {
    const { sql, parameterSets: encoded } = encodeBatch(text, sets);
    const envelope = { ...target, ...database, sql, transactionId };
    const requests = splitParameterSets(envelope, encoded, maxBatchBytes);
    for (const parameterSets of requests) {
      await call('BatchExecuteStatement', () =>
        client.send(
          new BatchExecuteStatementCommand({ ...target, ...database, sql: sql!, parameterSets, transactionId }),
        ),
      );
    }
    return requests.length;
  };

  const on = (tx: OpenTransaction | undefined, depth: number): DataApiSql => {
    // In a transaction every call waits for the one before it: the service refuses a second call in flight on a transaction.
    const inTx = <T>(fn: (id: string) => Promise<T>): Promise<T> => {
      if (!tx) throw new TypeError('no transaction to queue the call on');
      return tx.serial(() => fn(tx.id));
    };
    const self: DataApiSql = {
      limits,
      query: <Row>(text: string, params?: readonly SqlValue[]) =>
        tx ? inTx((id) => query<Row>(text, params, id)) : query<Row>(text, params, undefined),
      executeBatch: async (text, parameterSets) => {
        if (parameterSets.length === 0) return { parameterSets: 0, requests: 0 };
        const requests = tx
          ? await inTx((id) => batch(text, parameterSets, id))
          : await self.transaction((inner) => inner.executeBatch(text, parameterSets).then((r) => r.requests));
        return { parameterSets: parameterSets.length, requests };
      },
      transaction: async <T>(fn: (tx: DataApiSql) => Promise<T>): Promise<T> => {
        if (!tx) return inTransaction(fn);
        const savepoint = `rekey_sp_${depth}`;
        await inTx((id) => query(`SAVEPOINT ${savepoint}`, [], id));
        try {
          const result = await fn(on(tx, depth + 1));
          await inTx((id) => query(`RELEASE SAVEPOINT ${savepoint}`, [], id));
          return result;
        } catch (err) {
          // If this fails too the transaction is aborted (or the service ended it after the failed call): report the error that caused it.
          await inTx((id) => query(`ROLLBACK TO SAVEPOINT ${savepoint}`, [], id)).catch(() => undefined);
          throw err;
        }
      },
    };
    return self;
  };

  const inTransaction = async <T>(fn: (tx: DataApiSql) => Promise<T>): Promise<T> => {
    const begun = await call('BeginTransaction', () =>
      client.send(new BeginTransactionCommand({ ...target, ...database })),
    );
    const tx: OpenTransaction = { id: begun.transactionId!, serial: serialQueue() };
    // Rolled back with the same retries as any call; the failure that matters is the one that led
    // here, and a rollback that still fails leaves the service to end the transaction (3 minutes idle).
    // Commit and rollback queue behind any call still running, so they never overlap one either.
    const rollback = () =>
      tx
        .serial(() =>
          call('RollbackTransaction', () =>
            client.send(new RollbackTransactionCommand({ ...target, transactionId: tx.id })),
          ),
        )
        .catch(() => undefined);
    let result: T;
    try {
      result = await fn(on(tx, 1));
    } catch (err) {
      await rollback();
      throw err;
    }
    try {
      // Commit is retried only when throttled (nothing ran): after an unavailable service it may have committed already.
      await tx.serial(() =>
        call(
          'CommitTransaction',
          () => client.send(new CommitTransactionCommand({ ...target, transactionId: tx.id })),
          isThrottlingError,
        ),
      );
    } catch (err) {
      // Committed or not, a rollback is harmless (a committed transaction is simply not found) and frees the locks now.
      await rollback();
      throw err;
    }
    return result;
  };

  return {
    ...on(undefined, 0),
    close: async () => {
      if (ownClient) client.destroy();
    },
  };
}

/**
 * One SQL text for every parameter set of a batch. A value's placeholder can
 * depend on its type (a Date is `(:p AT TIME ZONE 'UTC')`, a bigint
 * `CAST(:p AS bigint)`), so a NULL in one set takes the placeholder the
 * column's values have in the others (NULL AT TIME ZONE is NULL, CAST(NULL)
 * is NULL). What cannot agree — an array parameter that is bytea in one set
 * and text in another, or two different types — is refused, naming the set
 * and the parameter.
 */
function encodeBatch(
  text: string,
  sets: readonly (readonly SqlValue[])[],
): { sql: string; parameterSets: SqlParameter[][] } {
  const encoded = sets.map((set) => set.map((v, i) => encodeParameter(i + 1, v)));
  const width = Math.max(0, ...sets.map((set) => set.length));
  const placeholders: string[] = [];
  for (let i = 0; i < width; i++) {
    let chosen: { placeholder: string; set: number } | undefined;
    encoded.forEach((set, n) => {
      const value = sets[n]![i];
      if (value === null || value === undefined || set[i] === undefined) return;
      if (!chosen) chosen = { placeholder: set[i]!.placeholder, set: n };
      else if (set[i]!.placeholder !== chosen.placeholder) {
        throw new DataApiParameterError(
          `parameter set ${n + 1} needs different SQL than set ${chosen.set + 1} for $${i + 1} (its values differ in type, e.g. an array that is bytea in one and text in the other)`,
        );
      }
    });
    const name = `:p${i + 1}`;
    const someNull = sets.some((set) => set[i] === null);
    if (chosen && someNull && chosen.placeholder.startsWith('ARRAY(')) {
      // An array placeholder over a NULL would give an empty array: keep the NULL a NULL.
      placeholders.push(`CASE WHEN CAST(${name} AS jsonb) IS NULL THEN NULL ELSE ${chosen.placeholder} END`);
    } else {
      // All NULL (or missing): the plain named placeholder; a missing one is reported by the rewrite below.
      placeholders.push(chosen?.placeholder ?? name);
    }
  }
  encoded.forEach((set, n) => {
    if (set.length !== width)
      throw new DataApiParameterError(`parameter set ${n + 1} has ${set.length} value(s), the others ${width}`);
  });
  const sql = rewritePositional(text, (index) => {
    const placeholder = placeholders[index - 1];
    if (placeholder === undefined)
      throw new DataApiParameterError(`the statement uses $${index} but ${width} parameter(s) were given`);
    return placeholder;
  });
  return { sql: checkSqlLength(sql), parameterSets: encoded.map((set) => set.map((e) => e.parameter)) };
}

/** `$n` → Data API placeholders and parameters, checking every `$n` has a value. */
function encodeStatement(text: string, values: readonly SqlValue[]): { sql: string; parameters: SqlParameter[] } {
  const encoded = values.map((v, i) => encodeParameter(i + 1, v));
  const sql = rewritePositional(text, (index) => {
    const parameter = encoded[index - 1];
    if (!parameter)
      throw new DataApiParameterError(`the statement uses $${index} but ${values.length} parameter(s) were given`);
    return parameter.placeholder;
  });
  return { sql: checkSqlLength(sql), parameters: encoded.map((e) => e.parameter) };
}
