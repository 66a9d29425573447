import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import type { Sql, SqlValue } from '../../ports/sql';
import { isThrottlingError } from './errors';
import { serialQueue, type OpenTransaction } from './serial';
import { openSession, type DataApiSession, type DataApiSqlOptions } from './session';
import { executeBatchRequests, executeStatement } from './statements';

export { DataApiConfigurationError, DataApiLimitError, DataApiParameterError, DataApiTransactionError } from './errors';
export type { DataApiSqlOptions } from './session';

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
 * typed Data API values (see values.ts; arrays travel as JSON expanded in
 * SQL), and results come back shaped like the pg adapter's: int8 and numeric
 * as strings (the service is asked for LONG and DECIMAL as strings), bytea as
 * Buffer, timestamps as Date, json parsed.
 *
 * transaction() uses Begin/Commit/RollbackTransaction and sends the
 * transaction id with every statement; a nested transaction() is a SAVEPOINT.
 * Transient errors (isTransientDataApiError) are retried with bounded
 * exponential backoff; everything else becomes a DatabaseError from
 * ports/sql-errors or errors.ts whose message never holds a parameter value.
 *
 * Phases: openSession (session.ts) resolves the options once; bind gives the
 * port outside or inside a transaction; runTransaction and withSavepoint open
 * and end them; statements.ts encodes and sends each statement.
 */
export function createDataApiSql(options: DataApiSqlOptions): DataApiSqlPool {
  const session = openSession(options);
  return {
    ...bind(session, undefined, 0),
    close: async () => {
      if (session.ownsClient) session.client.destroy();
    },
  };
}

/** The port outside any transaction (`tx` undefined) or inside `tx`, whose savepoints nest `depth` deep. */
function bind(session: DataApiSession, tx: OpenTransaction | undefined, depth: number): DataApiSql {
  const self: DataApiSql = {
    limits: session.limits,
    query: <Row>(text: string, params?: readonly SqlValue[]) =>
      tx
        ? queued(tx, (id) => executeStatement<Row>(session, text, params, id))
        : executeStatement<Row>(session, text, params, undefined),
    executeBatch: async (text, parameterSets) => {
      if (parameterSets.length === 0) return { parameterSets: 0, requests: 0 };
      const requests = tx
        ? await queued(tx, (id) => executeBatchRequests(session, text, parameterSets, id))
        : await self.transaction((inner) => inner.executeBatch(text, parameterSets).then((r) => r.requests));
      return { parameterSets: parameterSets.length, requests };
    },
    transaction: <T>(fn: (inner: DataApiSql) => Promise<T>): Promise<T> =>
      tx ? withSavepoint(session, tx, depth, fn) : runTransaction(session, fn),
  };
  return self;
}

/** In a transaction every call waits for the one before it: the service refuses a second call in flight on a transaction. */
function queued<T>(tx: OpenTransaction, fn: (id: string) => Promise<T>): Promise<T> {
  return tx.serial(() => fn(tx.id));
}

/** A nested transaction: a SAVEPOINT, released on success and rolled back to on failure. */
async function withSavepoint<T>(
  session: DataApiSession,
  tx: OpenTransaction,
  depth: number,
  fn: (inner: DataApiSql) => Promise<T>,
): Promise<T> {
  const savepoint = `rekey_sp_${depth}`;
  const run = (sql: string) => queued(tx, (id) => executeStatement(session, sql, [], id));
  await run(`SAVEPOINT ${savepoint}`);
  try {
    const result = await fn(bind(session, tx, depth + 1));
    await run(`RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (err) {
    // If this fails too the transaction is aborted (or the service ended it after the failed call): report the error that caused it.
    await run(`ROLLBACK TO SAVEPOINT ${savepoint}`).catch(() => undefined);
    throw err;
  }
}

/** Begin, run `fn`, commit; on any failure roll back and rethrow the failure. */
async function runTransaction<T>(session: DataApiSession, fn: (tx: DataApiSql) => Promise<T>): Promise<T> {
  const { client, target, database, call } = session;
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
    result = await fn(bind(session, tx, 1));
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
}
