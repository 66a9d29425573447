import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { DATA_API_MAX_SQL_LENGTH } from '../../../core/adapters/data-api/batch';
import { badRequest, DataApiFault, statusOf } from './faults';
import { toPositional, type WireParameter } from './named-parameters';
import { columnMetadata, resultTypeCheck, toField, toJsonValue, type ResultSetOptions } from './results';

/**
 * A Data API endpoint backed by a real PostgreSQL, faithful enough that the
 * real @aws-sdk/client-rds-data client (endpoint override, fake credentials)
 * proves an adapter. npm's data-api-local mishandles blobs, hence this.
 *
 * - REST-JSON routes as the SDK calls them: POST /Execute, /BatchExecute,
 *   /BeginTransaction, /CommitTransaction, /RollbackTransaction.
 * - Named `:param` parameters typed as the service types them (stringValue
 *   is varchar, longValue int8, …, typeHints TIMESTAMP/DATE/TIME/DECIMAL/
 *   UUID/JSON with their formats checked); array parameters refused.
 * - Typed records with columnMetadata (pgjdbc type names, java.sql.Types
 *   codes), or formattedRecords for formatRecordsAs JSON; int8 as a JSON
 *   number unless resultSetOptions.longReturnType is STRING, numeric as a
 *   string unless DOUBLE_OR_LONG; timestamps in UTC without a zone; arrays of
 *   bytea/uuid/json and multidimensional arrays refused.
 * - The service's limits: 4 MiB request (headers included), `sql` at most
 *   65,536 characters, 1 MiB response ("Database response exceeded size
 *   limit"), 64 KB per row ("Packet for query is too large"), all as
 *   BadRequestException — the wordings of the service's troubleshooting
 *   guide; the adapter also knows the other documented shapes.
 * - Result columns only of the documented types (results.ts): anything else
 *   (void, name, "char", interval, …) is UnsupportedResultException.
 * - Statements outside a transaction autocommit on a pooled connection that
 *   is reset (DISCARD ALL) after every call, so no session state (SET,
 *   set_config(…, false), temp tables, prepared statements) survives into the
 *   next call, as on the service, whose calls may land on any connection of
 *   its pool. A transaction id owns one connection until commit, rollback,
 *   3 minutes without a call, or a call that fails (the service then ends
 *   the transaction: "Transaction has been aborted due to an error from a
 *   previous call"); a second call while one runs on the same transaction is
 *   refused ("Transaction is still running a query").
 *   BatchExecute outside a transaction runs its parameter sets in one.
 * - SQL errors as DatabaseErrorException (the service's current type;
 *   `sqlErrorType: 'BadRequestException'` gives the older one) with
 *   PostgreSQL's message, Detail line and `; SQLState: xxxxx`; other errors
 *   with the status and x-amzn-ErrorType header the SDK maps to its classes.
 * - `failNext` makes the next calls of a route fail with a given error type,
 *   to drive retries through the real SDK.
 *
 * Not modelled: resourceArn/secretArn/database are checked for shape only
 * (the URL's database is used), no IAM, no ExecuteSql, generatedFields empty.
 */
export interface DataApiServer {
  readonly endpoint: string;
  /** Requests served, by route. */
  readonly calls: Record<string, number>;
  /** Requests refused for passing a size limit, by limit. */
  readonly refusals: { request: number; response: number; row: number };
  /** Bytes of the largest response sent. */
  largestResponse(): number;
  /** Transactions open now. */
  openTransactions(): number;
  /** The next `times` calls of `route` fail with `type` (with the service model's status for it unless given) before touching the database. */
  failNext(route: string, type: string, options?: { times?: number; status?: number; message?: string }): void;
  close(): Promise<void>;
}

export interface DataApiServerOptions {
  /** Connections to PostgreSQL (transactions hold one each). @default 8 */
  readonly maxConnections?: number;
  /** @default 4 MiB */
  readonly maxRequestBytes?: number;
  /** @default 1 MiB */
  readonly maxResponseBytes?: number;
  /** @default 64 KiB */
  readonly maxRowBytes?: number;
  /** Idle time after which an open transaction is rolled back. @default 180000 */
  readonly transactionIdleMs?: number;
  /** @default 'DatabaseErrorException' */
  readonly sqlErrorType?: 'DatabaseErrorException' | 'BadRequestException';
  /** Length limit of `sql`, in characters. @default 65536 (the API's constraint) */
  readonly maxSqlLength?: number;
  /**
   * A statement running longer is stopped and answered with
   * StatementTimeoutException, as the service does without
   * continueAfterTimeout. @default 45000
   */
  readonly statementTimeoutMs?: number;
}

interface Transaction {
  readonly client: pg.PoolClient;
  timer: NodeJS.Timeout;
  /** A call is running on it: the service refuses another until it ends. */
  busy: boolean;
}

/** The service's answer to a call on a transaction whose earlier call failed. */
const ABORTED = 'Transaction has been aborted due to an error from a previous call';

// Every column comes back as PostgreSQL's text output; results.ts types it as the service would.
const RAW_TEXT = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

export async function startDataApiServer(
  databaseUrl: string,
  options: DataApiServerOptions = {},
): Promise<DataApiServer> {
  const limits = {
    request: options.maxRequestBytes ?? 4 * 1024 * 1024,
    response: options.maxResponseBytes ?? 1024 * 1024,
    row: options.maxRowBytes ?? 64 * 1024,
    idle: options.transactionIdleMs ?? 180_000,
  };
  const sqlErrorType = options.sqlErrorType ?? 'DatabaseErrorException';
  // Sessions in UTC, Aurora's default TimeZone: timestamptz results come back in UTC.
  const url = new URL(databaseUrl);
  const statementTimeoutMs = options.statementTimeoutMs ?? 45_000;
  url.searchParams.set(
    'options',
    `${url.searchParams.get('options') ?? ''} -c TimeZone=UTC -c statement_timeout=${statementTimeoutMs}`.trim(),
  );
  const pool = new pg.Pool({ connectionString: url.toString(), max: options.maxConnections ?? 8, types: RAW_TEXT });
  pool.on('error', () => undefined);
  const transactions = new Map<string, Transaction>();
  /** Transactions the server ended after a failed call: their ids answer TransactionNotFoundException with the reason. */
  const aborted = new Set<string>();
  const maxSqlLength = options.maxSqlLength ?? DATA_API_MAX_SQL_LENGTH;
  const checkResultTypes = resultTypeCheck();
  const calls: Record<string, number> = {};
  const refusals = { request: 0, response: 0, row: 0 };
  let largestResponse = 0;
  const refused = (limit: keyof typeof refusals, message: string): DataApiFault => {
    refusals[limit] += 1;
    return badRequest(message);
  };
  const faults = new Map<string, { type: string; status: number; message: string; times: number }>();

  const transaction = (id: unknown): Transaction => {
    const tx = typeof id === 'string' ? transactions.get(id) : undefined;
    if (!tx) {
      const why = typeof id === 'string' && aborted.has(id) ? `: ${ABORTED}` : '';
      throw new DataApiFault('TransactionNotFoundException', `Transaction ${String(id)} is not found${why}`);
    }
    if (tx.busy) throw new DataApiFault(sqlErrorType, 'Transaction is still running a query');
    tx.timer.refresh();
    return tx;
  };

  /** Ends a transaction: COMMIT or ROLLBACK, then its connection is reset and returned to the pool. */
  const finish = async (id: unknown, verb: 'COMMIT' | 'ROLLBACK'): Promise<string> => {
    const tx = transaction(id);
    transactions.delete(id as string);
    clearTimeout(tx.timer);
    try {
      await run(tx.client, verb, []);
    } finally {
      await release(tx.client);
    }
    return verb === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete';
  };

  /** Resets a connection's session (SET, temp tables, prepared statements) before the next call may use it; a connection that cannot be reset is dropped. */
  const release = async (client: pg.PoolClient): Promise<void> => {
    try {
      await client.query('DISCARD ALL');
      client.release();
    } catch (err) {
      client.release(err as Error);
    }
  };

  /** Runs a call in a transaction, one at a time; a failed call ends the transaction, as the service does. */
  const inTransaction = async <T>(id: unknown, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const tx = transaction(id);
    tx.busy = true;
    try {
      return await fn(tx.client);
    } catch (err) {
      if (err instanceof DataApiFault && transactions.get(id as string) === tx) {
        transactions.delete(id as string);
        aborted.add(id as string);
        clearTimeout(tx.timer);
        await tx.client.query('ROLLBACK').catch(() => undefined);
        await release(tx.client);
      }
      throw err;
    } finally {
      tx.busy = false;
    }
  };

  /** Runs an autocommit call on a pooled connection that is reset afterwards: no session state reaches the next call. */
  const autocommit = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      return await fn(client);
    } finally {
      await release(client);
    }
  };

  const run = async (client: pg.PoolClient, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    try {
      // Extended protocol always: one statement per call, as the service allows.
      return await client.query({ text, values, queryMode: 'extended', rowMode: 'array' } as pg.QueryArrayConfig);
    } catch (err) {
      const e = err as { message?: string; code?: string; detail?: string; severity?: string };
      if (!e.severity) throw err;
      // 57014 from statement_timeout: the service's own timeout, not a SQL error.
      if (e.code === '57014' && /statement timeout/.test(e.message ?? ''))
        throw new DataApiFault('StatementTimeoutException', 'Request timed out', 400);
      const detail = e.detail ? `\n  Detail: ${e.detail}` : '';
      throw new DataApiFault(sqlErrorType, `${e.severity}: ${e.message}${detail}; SQLState: ${e.code ?? 'XX000'}`);
    }
  };

  const execute = async (body: Record<string, unknown>): Promise<unknown> => {
    const sql = requireSql(body);
    const { text, values } = toPositional(sql, (body.parameters as WireParameter[] | undefined) ?? []);
    const statement = async (client: pg.PoolClient): Promise<pg.QueryResult> => {
      const result = await run(client, text, values);
      if (result.fields?.length) await checkResultTypes(client, result.fields);
      return result;
    };
    const result =
      body.transactionId !== undefined
        ? await inTransaction(body.transactionId, statement)
        : await autocommit(statement);
    if (!result.fields?.length) return { numberOfRecordsUpdated: result.rowCount ?? 0, generatedFields: [] };
    const resultOptions = (body.resultSetOptions as ResultSetOptions | undefined) ?? {};
    const records = (result.rows as unknown as (string | null)[][]).map((row) => {
      const record = result.fields.map((f, i) => toField(row[i] ?? null, f.dataTypeID, resultOptions));
      if (Buffer.byteLength(JSON.stringify(record)) > limits.row) throw refused('row', 'Packet for query is too large');
      return record;
    });
    if (body.formatRecordsAs === 'JSON') {
      const objects = records.map((record) =>
        Object.fromEntries(record.map((f, i) => [result.fields[i]!.name, toJsonValue(f)])),
      );
      return { numberOfRecordsUpdated: 0, formattedRecords: JSON.stringify(objects) };
    }
    return {
      numberOfRecordsUpdated: 0,
      records,
      ...(body.includeResultMetadata ? { columnMetadata: result.fields.map(columnMetadata) } : {}),
    };
  };

  const batchExecute = async (body: Record<string, unknown>): Promise<unknown> => {
    const sql = requireSql(body);
    const sets = (body.parameterSets as WireParameter[][] | undefined) ?? [[]];
    const statements = sets.map((set) => toPositional(sql, set));
    const runAll = async (client: pg.PoolClient): Promise<unknown> => {
      for (const s of statements) await run(client, s.text, s.values);
      return { updateResults: statements.map(() => ({ generatedFields: [] })) };
    };
    if (body.transactionId !== undefined) return inTransaction(body.transactionId, runAll);
    return autocommit(async (client) => {
      try {
        await client.query('BEGIN');
        const out = await runAll(client);
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  };

  const requireSql = (body: Record<string, unknown>): string => {
    const sql = requireString(body, 'sql');
    if (sql.length > maxSqlLength)
      throw badRequest(`sql is ${sql.length} characters long, more than the ${maxSqlLength} allowed`);
    return sql;
  };

  const handle = async (route: string, body: Record<string, unknown>): Promise<unknown> => {
    calls[route] = (calls[route] ?? 0) + 1;
    const fault = faults.get(route);
    if (fault && fault.times > 0) {
      fault.times -= 1;
      throw new DataApiFault(fault.type, fault.message, fault.status);
    }
    for (const field of ['resourceArn', 'secretArn']) {
      if (!requireString(body, field).startsWith('arn:')) throw badRequest(`Invalid ${field}: not an ARN`);
    }
    switch (route) {
      case '/BeginTransaction': {
        const client = await pool.connect();
        await client.query('BEGIN');
        const id = randomUUID();
        const timer = setTimeout(() => void finish(id, 'ROLLBACK').catch(() => undefined), limits.idle);
        timer.unref();
        transactions.set(id, { client, timer, busy: false });
        return { transactionId: id };
      }
      case '/CommitTransaction':
        return { transactionStatus: await finish(body.transactionId, 'COMMIT') };
      case '/RollbackTransaction':
        return { transactionStatus: await finish(body.transactionId, 'ROLLBACK') };
      case '/Execute':
        return execute(body);
      case '/BatchExecute':
        return batchExecute(body);
      default:
        throw new DataApiFault('UnknownOperationException', `Unknown operation ${route}`, 404);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = (req.url ?? '').split('?')[0]!;
      const body = Buffer.concat(chunks);
      // Request line + headers + body, as the service counts them.
      const headerBytes =
        req.rawHeaders.reduce((n, h) => n + Buffer.byteLength(h) + 2, 0) + `POST ${req.url} HTTP/1.1\r\n\r\n`.length;
      const respond = (status: number, out: unknown, type?: string): void => {
        const text = JSON.stringify(out);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          'x-amzn-requestid': randomUUID(),
          ...(type
            ? { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.rdsdataservice/` }
            : {}),
        });
        res.end(text);
      };
      const fail = (err: unknown): void => {
        if (err instanceof DataApiFault) return respond(err.status, { message: err.message }, err.type);
        respond(500, { message: 'Internal error' }, 'InternalServerErrorException');
      };
      if (headerBytes + body.length > limits.request)
        return fail(
          refused('request', `Request size ${headerBytes + body.length} exceeds the ${limits.request}-byte limit`),
        );
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return fail(new DataApiFault('SerializationException', 'Request body is not valid JSON'));
      }
      handle(route, parsed).then((out) => {
        const size = Buffer.byteLength(JSON.stringify(out));
        if (size > limits.response) return fail(refused('response', 'Database response exceeded size limit'));
        largestResponse = Math.max(largestResponse, size);
        respond(200, out);
      }, fail);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    refusals,
    largestResponse: () => largestResponse,
    openTransactions: () => transactions.size,
    failNext: (route, type, o = {}) =>
      faults.set(route, { type, status: o.status ?? statusOf(type), message: o.message ?? type, times: o.times ?? 1 }),
    close: async () => {
      if (!server.listening) return;
      // Rolled back even while a call still runs on them (a busy transaction refuses finish()): the pool must get every connection back to end.
      for (const [id, tx] of [...transactions]) {
        transactions.delete(id);
        clearTimeout(tx.timer);
        await tx.client.query('ROLLBACK').catch(() => undefined);
        tx.client.release(true);
      }
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw badRequest(`${field} is required`);
  return value;
}
