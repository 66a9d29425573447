import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
} from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createDataApiSql,
  DataApiConfigurationError,
  DataApiLimitError,
  DataApiTransactionError,
} from '../../../functions/core/adapters/data-api/sql';
import { mapPgError } from '../../../functions/core/adapters/pg/errors';
import {
  DatabaseAuthenticationError,
  DatabaseConnectionError,
  QueryError,
  ResultTooLargeError,
  SerializationError,
  StatementTimeoutError,
  UniqueViolationError,
} from '../../../functions/core/ports/sql-errors';

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
  expect(err.cause).toMatchObject({
    name: 'ThrottlingException',
    message: 'Rate exceeded',
    $metadata: cause.$metadata,
  });
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(6);
});

it('does not retry a SQL error, and drops DETAIL lines that may quote values from the message and the cause', async () => {
  const cause = error(
    'DatabaseErrorException',
    'ERROR: duplicate key value violates unique constraint "u_pkey"\n  Detail: Key (id)=(secret-7) already exists.; SQLState: 23505',
  );
  rds.on(ExecuteStatementCommand).rejects(cause);
  const err = await caught(sql().query('INSERT INTO u VALUES ($1)', ['secret-7']));
  expect(err).toBeInstanceOf(UniqueViolationError);
  expect(err.sqlState).toBe('23505');
  expect(err.message).toBe('ExecuteStatement failed: ERROR: duplicate key value violates unique constraint "u_pkey"');
  expect(err.cause).toMatchObject({
    name: 'DatabaseErrorException',
    message: 'ERROR: duplicate key value violates unique constraint "u_pkey"',
  });
  expect(JSON.stringify(err.cause, Object.getOwnPropertyNames(err.cause))).not.toContain('secret-7');
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it('hides the input PostgreSQL quotes in a data exception, in the older BadRequestException framing too', async () => {
  rds
    .on(ExecuteStatementCommand)
    .rejects(
      error(
        'BadRequestException',
        'Database error code: 0. Message: ERROR: invalid input syntax for type uuid: "hunter2"; SQLState: 22P02',
      ),
    );
  const err = await caught(sql().query('SELECT $1::uuid', ['hunter2']));
  expect(err).toBeInstanceOf(QueryError);
  expect(err.sqlState).toBe('22P02');
  expect(err.message).toBe('ExecuteStatement failed: ERROR: invalid input syntax for type uuid: (input withheld)');
});

it('maps serialization failures to the retryable SerializationError, as the pg adapter does', async () => {
  rds
    .on(ExecuteStatementCommand)
    .rejects(
      error('DatabaseErrorException', 'ERROR: could not serialize access due to concurrent update; SQLState: 40001'),
    );
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
  ['UnsupportedResultException', DataApiLimitError, /cast unsupported types to text/],
] as const)('says what to fix on %s, without retrying', async (name, type, message) => {
  rds.on(ExecuteStatementCommand).rejects(error(name, 'from the service'));
  const err = await caught(sql().query('SELECT 1'));
  expect(err).toBeInstanceOf(type);
  expect(err.message).toMatch(message);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it('a statement stopped at the 45 s timeout is a retryable StatementTimeoutError that says what to make cheaper, not retried in place', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('StatementTimeoutException', 'Request timed out'));
  const err = await caught(sql().query('SELECT 1'));
  expect(err).toBeInstanceOf(StatementTimeoutError);
  expect(err.retryable).toBe(true);
  expect(err.message).toMatch(/45 s timeout and was stopped; retry, or make it cheaper/);
  // Not retried by the adapter: another 45 s would pass the worker's own deadline; the caller's retry decides.
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);

  rds.reset();
  rds
    .on(ExecuteStatementCommand)
    .rejects(error('DatabaseErrorException', 'ERROR: canceling statement due to statement timeout; SQLState: 57014'));
  const sqlTimeout = await caught(sql().query('SELECT 1'));
  expect(sqlTimeout).toBeInstanceOf(StatementTimeoutError);
  expect(sqlTimeout.sqlState).toBe('57014');
  const pgErr = mapPgError(
    Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', severity: 'ERROR' }),
  );
  expect(pgErr).toBeInstanceOf(StatementTimeoutError);
});

// The engine's paging readers answer ResultTooLargeError (the port's class) with a smaller page, so every
// wording the service uses for a result over 1 MiB must become it; a single row over 64 KB must not.
it.each([
  ['BadRequestException', 'Database returned more than the allowed response size limit'],
  ['BadRequestException', 'Database response exceeded size limit'],
  ['DatabaseErrorException', 'Database response exceeded size limit'],
  ['UnsupportedResultException', 'The result size was too large.'],
  ['UnsupportedResultException', 'Database response exceeded size limit'],
  ['BadRequestException', 'The response exceeded size limit of 1 MiB'],
] as const)('a result over the response limit (%s: %s) is a ResultTooLargeError', async (name, message) => {
  rds.on(ExecuteStatementCommand).rejects(error(name, message));
  const err = await caught(sql().query('SELECT * FROM big'));
  expect(err).toBeInstanceOf(ResultTooLargeError);
  expect(err).not.toBeInstanceOf(DataApiLimitError);
  expect(err.message).toMatch(/fewer rows/);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it.each([
  [
    'UnsupportedResultException',
    'The result contains the unsupported data type void.',
    /cast unsupported types to text/,
  ],
  [
    'UnsupportedResultException',
    'The result contains the unsupported data type "CHAR".',
    /cast unsupported types to text/,
  ],
  [
    'UnsupportedResultException',
    'The result contains a multidimensional array, which is not supported.',
    /multidimensional/,
  ],
  ['BadRequestException', 'Packet for query is too large', /64 KB row limit/],
  ['BadRequestException', 'Database returned a row larger than the 65536-byte row size limit', /64 KB row limit/],
] as const)('%s "%s" is a DataApiLimitError no smaller page can cure', async (name, message, says) => {
  rds.on(ExecuteStatementCommand).rejects(error(name, message));
  const err = await caught(sql().query('SELECT * FROM big'));
  expect(err).toBeInstanceOf(DataApiLimitError);
  expect(err).not.toBeInstanceOf(ResultTooLargeError);
  expect(err.message).toMatch(says);
});

it('a transaction still running a query is waited out and sent again (the documented remedy)', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 'busy' });
  rds
    .on(ExecuteStatementCommand)
    .rejectsOnce(error('DatabaseErrorException', 'Transaction is still running a query'))
    .resolves({ numberOfRecordsUpdated: 1 });
  rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
  await expect(sql().transaction((t) => t.query('UPDATE t SET n = 1'))).resolves.toEqual({ rows: [], rowCount: 1 });
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(2);
});

it('sends one call at a time on a transaction, even when the caller does not wait', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 'serial' });
  let inFlight = 0;
  let most = 0;
  rds.on(ExecuteStatementCommand).callsFake(async () => {
    inFlight++;
    most = Math.max(most, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    return { numberOfRecordsUpdated: 1 };
  });
  rds.on(CommitTransactionCommand).resolves({ transactionStatus: 'Transaction Committed' });
  await sql().transaction((t) =>
    Promise.all([t.query('UPDATE a SET n = 1'), t.query('UPDATE b SET n = 1'), t.query('UPDATE c SET n = 1')]),
  );
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(3);
  expect(most).toBe(1);
  // Outside a transaction calls are independent: they may overlap.
  await Promise.all([sql().query('SELECT 1'), sql().query('SELECT 2')]);
  expect(most).toBe(2);
});

it('retries a throttled commit but not one that may have committed', async () => {
  const tx = sql();
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't1' });
  rds.on(ExecuteStatementCommand).resolves({ numberOfRecordsUpdated: 1 });
  rds
    .on(CommitTransactionCommand)
    .rejectsOnce(error('ThrottlingException'))
    .resolves({ transactionStatus: 'Transaction Committed' });
  await expect(tx.transaction((t) => t.query('UPDATE t SET n = 1'))).resolves.toEqual({ rows: [], rowCount: 1 });
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(2);

  rds.on(CommitTransactionCommand).rejects(error('ServiceUnavailableError'));
  await expect(tx.transaction((t) => t.query('UPDATE t SET n = 1'))).rejects.toBeInstanceOf(DatabaseConnectionError);
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(3);
});

it('rolls back when the transaction body fails and surfaces the body error', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't2' });
  rds
    .on(ExecuteStatementCommand)
    .rejects(error('DatabaseErrorException', 'ERROR: relation "nope" does not exist; SQLState: 42P01'));
  rds.on(RollbackTransactionCommand).rejects(error('TransactionNotFoundException'));
  const err = await caught(sql().transaction((t) => t.query('SELECT * FROM nope')));
  expect(err).toBeInstanceOf(QueryError);
  expect(err.sqlState).toBe('42P01');
  expect(rds.commandCalls(RollbackTransactionCommand)[0]!.args[0].input.transactionId).toBe('t2');
  expect(rds.commandCalls(CommitTransactionCommand)).toHaveLength(0);
});

it('retries a throttled rollback, and rolls back after a commit that failed unclearly', async () => {
  rds.on(BeginTransactionCommand).resolves({ transactionId: 't3' });
  rds
    .on(ExecuteStatementCommand)
    .rejects(error('DatabaseErrorException', 'ERROR: relation "nope" does not exist; SQLState: 42P01'));
  rds
    .on(RollbackTransactionCommand)
    .rejectsOnce(error('ThrottlingException'))
    .resolves({ transactionStatus: 'Rollback Complete' });
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
    if (input.sql.startsWith('ROLLBACK TO SAVEPOINT'))
      return Promise.reject(error('DatabaseErrorException', 'ERROR: current transaction is aborted; SQLState: 25P02'));
    return Promise.reject(
      error('DatabaseErrorException', 'ERROR: duplicate key value violates unique constraint "k"; SQLState: 23505'),
    );
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
    expect([sqlState, pgErr instanceof type, (pgErr as { retryable?: boolean }).retryable]).toEqual([
      sqlState,
      true,
      err.retryable,
    ]);
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
