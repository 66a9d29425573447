import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type ExecuteStatementCommandOutput,
} from '@aws-sdk/client-rds-data';
import type { Sql, SqlPool, SqlResult, SqlValue } from '../ports/sql';
import { DatabaseAuthenticationError, DatabaseConnectionError, QueryError, UnknownDatabaseError } from '../ports/sql-errors';
import { rewritePositional } from './data-api/positional';
import { arrayExpression, fromField, toParameter } from './data-api/values';

export interface DataApiSqlOptions {
  readonly client?: RDSDataClient;
  /** Aurora cluster ARN. */
  readonly resourceArn: string;
  /** Secrets Manager secret with the database credentials. */
  readonly secretArn: string;
  readonly database: string;
  /** Attempts for transient errors (throttling, a resuming Aurora Serverless cluster). @default 6 */
  readonly maxAttempts?: number;
  /** First backoff in ms (doubles, full jitter, capped at 5 s). @default 200 */
  readonly baseDelayMs?: number;
}

/** Errors a retry can cure: throttling, a 5xx, an Aurora Serverless cluster waking up. */
const TRANSIENT = new Set([
  'ThrottlingException',
  'ServiceUnavailableError',
  'InternalServerErrorException',
  'DatabaseResumingException',
  'DatabaseNotFoundException_Resuming',
  'StatementTimeoutException_NotRetried',
]);

/**
 * The Sql port over the RDS Data API: `$n` parameters become `:pN`, values
 * become typed Data API values (arrays become a JSON parameter expanded in
 * SQL: the Data API has no array parameters), results come back shaped like
 * the pg adapter's (int8 as strings, bytea as Buffer). transaction() uses
 * Begin/Commit/RollbackTransaction; a nested one is a SAVEPOINT. Transient
 * errors are retried with backoff; others become DatabaseErrors whose message
 * is the server's first line — never parameter values.
 */
export function createDataApiSql(options: DataApiSqlOptions): SqlPool {
  const client = options.client ?? new RDSDataClient({});
  const maxAttempts = options.maxAttempts ?? 6;
  const baseDelay = options.baseDelayMs ?? 200;

  const send = async <T>(what: string, fn: () => Promise<T>, retryable: boolean): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const name = (err as { name?: string }).name ?? '';
        if (retryable && TRANSIENT.has(name) && attempt < maxAttempts) {
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(5000, baseDelay * 2 ** (attempt - 1))));
          continue;
        }
        throw mapDataApiError(err, what);
      }
    }
  };

  const execute = async <Row>(text: string, params: readonly SqlValue[] | undefined, transactionId: string | undefined): Promise<SqlResult<Row>> => {
    const values = params ?? [];
    const sql = rewritePositional(text, (index) => {
      const value = values[index - 1];
      if (index < 1 || index > values.length) throw new QueryError(`the statement uses $${index} but ${values.length} parameter(s) were given`);
      return Array.isArray(value) ? arrayExpression(`p${index}`, value) : `:p${index}`;
    });
    const output: ExecuteStatementCommandOutput = await send(
      'ExecuteStatement',
      () =>
        client.send(
          new ExecuteStatementCommand({
            resourceArn: options.resourceArn,
            secretArn: options.secretArn,
            database: options.database,
            sql,
            parameters: values.map((v, i) => toParameter(`p${i + 1}`, v)),
            includeResultMetadata: true,
            ...(transactionId ? { transactionId } : {}),
          }),
        ),
      // Outside a transaction a statement that failed transiently never ran; inside one, a resuming cluster would have lost it anyway.
      true,
    );
    const columns = output.columnMetadata ?? [];
    const rows = (output.records ?? []).map((record) => {
      const row: Record<string, unknown> = {};
      record.forEach((field, i) => {
        row[columns[i]?.label ?? columns[i]?.name ?? `column${i + 1}`] = fromField(field, columns[i]);
      });
      return row as Row;
    });
    return { rows, rowCount: output.records ? rows.length : Number(output.numberOfRecordsUpdated ?? 0) };
  };

  const onTransaction = (transactionId: string | undefined, depth: number): Sql => ({
    query: <Row>(text: string, params?: readonly SqlValue[]) => execute<Row>(text, params, transactionId),
    transaction: async <T>(fn: (tx: Sql) => Promise<T>): Promise<T> => {
      if (!transactionId) {
        const begun = await send(
          'BeginTransaction',
          () => client.send(new BeginTransactionCommand({ resourceArn: options.resourceArn, secretArn: options.secretArn, database: options.database })),
          true,
        );
        const id = begun.transactionId!;
        try {
          const result = await fn(onTransaction(id, 1));
          await send('CommitTransaction', () => client.send(new CommitTransactionCommand({ resourceArn: options.resourceArn, secretArn: options.secretArn, transactionId: id })), false);
          return result;
        } catch (err) {
          await client
            .send(new RollbackTransactionCommand({ resourceArn: options.resourceArn, secretArn: options.secretArn, transactionId: id }))
            .catch(() => undefined);
          throw err;
        }
      }
      const savepoint = `rekey_sp_${depth}`;
      await execute(`SAVEPOINT ${savepoint}`, [], transactionId);
      try {
        const result = await fn(onTransaction(transactionId, depth + 1));
        await execute(`RELEASE SAVEPOINT ${savepoint}`, [], transactionId);
        return result;
      } catch (err) {
        await execute(`ROLLBACK TO SAVEPOINT ${savepoint}`, [], transactionId);
        throw err;
      }
    },
  });

  return { ...onTransaction(undefined, 0), close: async () => undefined };
}

function mapDataApiError(err: unknown, what: string): unknown {
  const e = err as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  // The server's first line names the problem; later lines (DETAIL) may quote values.
  const first = (e.message ?? '').split('\n')[0]!.replace(/;\s*SQLState:.*$/i, '').trim();
  if (name === 'AccessDeniedException' || name === 'ForbiddenException') {
    return new DatabaseAuthenticationError(
      `${what} was denied (${first}): the role needs rds-data:${what} on the cluster and secretsmanager:GetSecretValue on the database secret`,
      undefined,
      { cause: err },
    );
  }
  if (/database "[^"]*" does not exist/.test(first)) return new UnknownDatabaseError(`${first}: fix DB_NAME`, '3D000', { cause: err });
  if (TRANSIENT.has(name)) return new DatabaseConnectionError(`${what}: the Data API is unavailable (${name}); retry later`, undefined, { cause: err });
  if (name === 'BadRequestException' || name === 'DatabaseErrorException') {
    return new QueryError(`${what} failed: ${first}`, /SQLState: (\w{5})/.exec(e.message ?? '')?.[1], { cause: err });
  }
  return err;
}
