import { ExecuteStatementCommand, RDSDataClient } from '@aws-sdk/client-rds-data';
import { mockClient } from 'aws-sdk-client-mock';
import { createDataApiSql } from '../../../functions/core/adapters/data-api-sql';
import { rewritePositional } from '../../../functions/core/adapters/data-api/positional';
import { DatabaseAuthenticationError, QueryError } from '../../../functions/core/ports/sql-errors';

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

beforeEach(() => rds.reset());

it('retries throttling and a resuming Aurora Serverless cluster, then succeeds', async () => {
  rds
    .on(ExecuteStatementCommand)
    .rejectsOnce(error('ThrottlingException'))
    .rejectsOnce(error('DatabaseResumingException'))
    .resolves({ records: [[{ longValue: 1 }]], columnMetadata: [{ name: 'n', typeName: 'int4' }] });
  await expect(sql().query('SELECT 1 AS n')).resolves.toEqual({ rows: [{ n: 1 }], rowCount: 1 });
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(3);
});

it('gives up after the bounded attempts', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('ThrottlingException'));
  await expect(sql().query('SELECT 1')).rejects.toThrow(/Data API is unavailable/);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(6);
});

it('does not retry a SQL error, keeps the cause and drops DETAIL lines that may quote values', async () => {
  const cause = error('BadRequestException', 'ERROR: duplicate key value violates unique constraint "u_pkey"\n  Detail: Key (id)=(secret-7) already exists.; SQLState: 23505');
  rds.on(ExecuteStatementCommand).rejects(cause);
  const err = (await sql().query('INSERT INTO u VALUES ($1)', ['secret-7']).catch((e: unknown) => e)) as QueryError;
  expect(err).toBeInstanceOf(QueryError);
  expect(err.sqlState).toBe('23505');
  expect(err.message).not.toContain('secret-7');
  expect(err.cause).toBe(cause);
  expect(rds.commandCalls(ExecuteStatementCommand)).toHaveLength(1);
});

it('says which permissions are missing on AccessDenied', async () => {
  rds.on(ExecuteStatementCommand).rejects(error('AccessDeniedException', 'not authorized'));
  await expect(sql().query('SELECT 1')).rejects.toBeInstanceOf(DatabaseAuthenticationError);
  await expect(sql().query('SELECT 1')).rejects.toThrow(/rds-data:ExecuteStatement.*secretsmanager:GetSecretValue/);
});

it('rewrites $n outside literals, identifiers, dollar quotes and comments only', () => {
  const out = rewritePositional(`SELECT $1, '$2', "$3", $tag$ $4 $tag$, $2 -- $5\n/* $6 */ FROM t WHERE x = $10`, (i) => `:p${i}`);
  expect(out).toBe(`SELECT :p1, '$2', "$3", $tag$ $4 $tag$, :p2 -- $5\n/* $6 */ FROM t WHERE x = :p10`);
});
