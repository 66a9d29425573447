import { BeginTransactionCommand, CommitTransactionCommand, ExecuteStatementCommand, RDSDataClient, RollbackTransactionCommand } from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { createDataApiSql, DataApiConfigurationError, DataApiLimitError, DataApiTransactionError } from '../../../functions/core/adapters/data-api-sql';
import { mapPgError } from '../../../functions/core/adapters/pg/errors';
import { DatabaseAuthenticationError, DatabaseConnectionError, QueryError, ResultTooLargeError, SerializationError, UniqueViolationError } from '../../../functions/core/ports/sql-errors';

/** Error branches of the Data API adapter (the happy paths run against a real endpoint in test/integration/adapters). */
const rds = mockClient(RDSDataClient);
const sql = () =>
  createDataApiSql({
    client: new RDSDataClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
    resourceArn: 'arn:aws:rds:us-east-1:1:cluster:c',
    secretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:s',
    database: 'app',
    baseDelayMs: 1,
  });
const error = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} });
const caught = async (p: Promise<unknown>): Promise<Error & { sqlState?: string; retryable?: boolean }> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );

beforeEach(() => rds.reset());

it('retries throttling and a resuming Aurora Serverless cluster, then succeeds', async () => {
  rds
    .on(ExecuteStatementCommand)
    .rejectsOnce(error('ThrottlingException'))
    .rejectsOnce(error('DatabaseResumingException'))
    .rejectsOnce(error('DatabaseUnavailableException'))
    .resolves({ records: [[{ longValue: 1 }]], columnMetadata: [{ name: 'n', typeName: 'int4' }] });
  await expect(sql().query('SELECT 1 AS n')).resolves.toEqual({ rows: [{ n: 1 }], rowCount: 1 });
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(4);
});

it('gives up after the bounded attempts with a retryable connection error that keeps the cause', async () => {
  const cause = error('ThrottlingException', 'Rate exceeded');
  rds.on(ExecuteStatementCommand).rejects(cause);
  const err = await caught(sql().query('SELECT 1'));
  expect(err).toBeInstanceOf(DatabaseConnectionError);
  expect(err.retryable).toBe(true);
  expect(err.message).toMatch(/Data API is unavailable \(ThrottlingException\)/);
  expect(err.cause).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: cause.$metadata });
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(6);
});

it('does not retry a SQL error, and drops DETAIL lines that may quote values from the message and the cause', async () => {
  const cause = error('DatabaseErrorException', 'ERROR: duplicate key value violates unique constraint "u_pkey"\n  Detail: Key (id)=(secret-7) already exists.; SQLState: 23505');
  rds.on(ExecuteStatementCommand).rejects(cause);
  const err = await caught(sql().query('INSERT INTO u VALUES ($1)', ['secret-7']));
  expect(err).toBeInstanceOf(UniqueViolationError);
  expect(err.sqlState).toBe('23505');
  expect(err.message).toBe('ExecuteStatement failed: ERROR: duplicate key value violates unique constraint "u_pkey"');
  expect(err.cause).toMatchObject({ name: 'DatabaseErrorException', message: 'ERROR: duplicate key value violates unique constraint "u_pkey"' });
  expect(JSON.stringify(err.cause, Object.getOwnPropertyNames(err.cause))).not.toContain('secret-7');
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it('hides the input PostgreSQL quotes in a data exception, in the older BadRequestException framing too', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('BadRequestException', 'Database error code: 0. Message: ERROR: invalid input syntax for type uuid: "hunter2"; SQLState: 22P02'));
  const err = await caught(sql().query('SELECT $1::uuid', ['hunter2']));
  expect(err).toBeInstanceOf(QueryError);
  expect(err.sqlState).toBe('22P02');
  expect(err.message).toBe('ExecuteStatement failed: ERROR: invalid input syntax for type uuid: (input withheld)');
});

it('maps serialization failures to the retryable SerializationError, as the pg adapter does', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('DatabaseErrorException', 'ERROR: could not serialize access due to concurrent update; SQLState: 40001'));
  const err = await caught(sql().query('UPDATE t SET n = 1'));
  expect(err).toBeInstanceOf(SerializationError);
  expect(err.retryable).toBe(true);
});

it.each([
  ['AccessDeniedException', DatabaseAuthenticationError, /rds-data:ExecuteStatement.*secretsmanager:GetSecretValue/],
  ['SecretsErrorException', DatabaseAuthenticationError, /DB_SECRET_ARN/],
  ['HttpEndpointNotEnabledException', DataApiConfigurationError, /EnableHttpEndpoint/],
  ['DatabaseNotFoundException', DataApiConfigurationError, /DB_CLUSTER_ARN/],
  ['TransactionNotFoundException', DataApiTransactionError, /3 minutes/],
  ['StatementTimeoutException', QueryError, /45 s timeout and was stopped; make it cheaper/],
  ['UnsupportedResultException', DataApiLimitError, /substring/],
] as const)('says what to fix on %s, without retrying', async (name, type, message) => {
  rds.on(ExecuteStatementCommand).rejects(error(name, 'from the service'));
  const err = await caught(sql().query('SELECT 1'));
  expect(err).toBeInstanceOf(type);
  expect(err.message).toMatch(message);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it('names the response size limit when the service refuses a large result', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('BadRequestException', 'Database returned more than the allowed response size limit'));
  const err = await caught(sql().query('SELECT * FROM big'));
  // The port's class, not the adapter's: the engine's paging readers ask for fewer rows when they see it.
  expect(err).toBeInstanceOf(ResultTooLargeError);
  expect(err).not.toBeInstanceOf(DataApiLimitError);
  expect(err.message).toMatch(/response size limit.*fewer rows/);
});

it('retries a throttled commit but not one that may have committed', async () => {
  const tx = sql();
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't1' });
  rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
  rds.on(CommitTransactionCommand).rejectsOnce(error('ThrottlingException')).resolves({ transactionStatus: 'Transaction Committed' });
  await expect(tx.transaction((t) => t.query('UPDATE t SET n = 1'))).resolves.toEqual({ rows: [], rowCount: 1 });
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(2);

  rds.on(CommitTransactionCommand).rejects(error('ServiceUnavailableError'));
  await expect(tx.transaction((t) => t.query('UPDATE t SET n = 1'))).rejects.toBeInstanceOf(DatabaseConnectionError);
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(3);
});

it('rolls back when the transaction body fails and surfaces the body error', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't2' });
  rds.on(ExecuteStatementCommand).rejects(error('DatabaseErrorException', 'ERROR: relation "nope" does not exist; SQLState: 42P01'));
  rds.on(RollbackTransactionCommand).rejects(error('TransactionNotFoundException'));
  const err = await caught(sql().transaction((t) => t.query('SELECT * FROM nope')));
  expect(err).toBeInstanceOf(QueryError);
  expect(err.sqlState).toBe('42P01');
  expect(rds.commandCalls(RollbackTransactionCommand)[0]!.args[0].input.transactionId).toBe('t2');
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
});

it('retries a throttled rollback, and rolls back after a commit that failed unclearly', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't3' });
  rds.on(ExecuteStatementCommand).rejects(error('DatabaseErrorException', 'ERROR: relation "nope" does not exist; SQLState: 42P01'));
  rds.on(RollbackTransactionCommand).rejectsOnce(error('ThrottlingException')).resolves({ transactionStatus: 'Rollback Complete' });
  await expect(sql().transaction((t) => t.query('SELECT * FROM nope'))).rejects.toBeInstanceOf(QueryError);
  expect(rds.commandCalls(RollbackTransactionCommand)).toHaveLength(2);

  rds.reset();
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't4' });
  rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
  rds.on(CommitTransactionCommand).rejects(error('InternalServerErrorException'));
  rds.on(RollbackTransactionCommand).rejects(error('TransactionNotFoundException'));
  const err = await caught(sql().transaction((t) => t.query('UPDATE t SET n = 1')));
  expect(err).toBeInstanceOf(DatabaseConnectionError);
  expect(err.message).toMatch(/CommitTransaction/);
  expect(rds.commandCalls(RollbackTransactionCommand).map((c) => c.args[0].input.transactionId)).toEqual(['t4']);
});

it('a savepoint whose rollback fails too still reports the error that caused it', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't5' });
  rds.on(ExecuteStatementCommand).callsFake((input: { sql: string }) => {
    if (input.sql.startsWith('SAVEPOINT')) return Promise.resolve({});
    if (input.sql.startsWith('ROLLBACK TO SAVEPOINT')) return Promise.reject(error('DatabaseErrorException', 'ERROR: current transaction is aborted; SQLState: 25P02'));
    return Promise.reject(error('DatabaseErrorException', 'ERROR: duplicate key value violates unique constraint "k"; SQLState: 23505'));
  });
  rds.on(RollbackTransactionCommand).resolves({});
  const err = await caught(sql().transaction((t) => t.transaction((inner) => inner.query('INSERT INTO t VALUES (1)'))));
  expect(err).toBeInstanceOf(UniqueViolationError);
  expect(err.sqlState).toBe('23505');
});

it('maps SQLSTATEs as the pg adapter does: server restarts and too many connections are retryable', async () => {
  for (const [sqlState, type] of [
    ['57P02', DatabaseConnectionError],
    ['53300', DatabaseConnectionError],
    ['08006', DatabaseConnectionError],
    ['40P01', SerializationError],
    ['28P01', DatabaseAuthenticationError],
    ['42601', QueryError],
  ] as const) {
    rds.reset();
    rds.on(ExecuteStatementCommand).rejects(error('DatabaseErrorException', `ERROR: something; SQLState: ${sqlState}`));
    const err = await caught(sql().query('SELECT 1'));
    expect([sqlState, err instanceof type, err.sqlState]).toEqual([sqlState, true, sqlState]);
    const pgErr = mapPgError(Object.assign(new Error('something'), { code: sqlState, severity: 'FATAL' }));
    expect([sqlState, pgErr instanceof type, (pgErr as { retryable?: boolean }).retryable]).toEqual([sqlState, true, err.retryable]);
  }
});

it('waits out a cluster resuming from a pause longer than a throttle', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('DatabaseResumingException'));
  await expect(sql().query('SELECT 1')).rejects.toBeInstanceOf(DatabaseConnectionError);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(15);

  rds.reset();
  rds.on(ExecuteStatementCommand).rejects(error('ThrottlingException'));
  await expect(sql().query('SELECT 1')).rejects.toBeInstanceOf(DatabaseConnectionError);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(6);
});
