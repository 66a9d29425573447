import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { DATA_API_MAX_SQL_LENGTH } from '../../../core/adapters/data-api/batch';
import { badRequest, DataApiFault, statusOf } from './faults';
import { resultTypeCheck } from './results';
import type { SqlErrorType } from './run-statement';
import { batchExecute, execute, requireString, type StatementContext } from './statements';
import { TransactionTable } from './transactions';

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
 *
 * This file routes requests and holds the HTTP side (limits on request and
 * response, error responses); statements.ts runs Execute and BatchExecute,
 * transactions.ts hands out connections and transactions.
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
  readonly sqlErrorType?: SqlErrorType;
  /** Length limit of `sql`, in characters. @default 65536 (the API's constraint) */
  readonly maxSqlLength?: number;
  /**
   * A statement running longer is stopped and answered with
   * StatementTimeoutException, as the service does without
   * continueAfterTimeout. @default 45000
   */
  readonly statementTimeoutMs?: number;
}

// Every column comes back as PostgreSQL's text output; results.ts types it as the service would.
const RAW_TEXT = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

interface Fault {
  readonly type: string;
  readonly status: number;
  readonly message: string;
  times: number;
}

export async function startDataApiServer(
  databaseUrl: string,
  options: DataApiServerOptions = {},
): Promise<DataApiServer> {
  const limits = {
    request: options.maxRequestBytes ?? 4 * 1024 * 1024,
    response: options.maxResponseBytes ?? 1024 * 1024,
  };
  const sqlErrorType = options.sqlErrorType ?? 'DatabaseErrorException';
  const pool = new pg.Pool({
    connectionString: sessionUrl(databaseUrl, options),
    max: options.maxConnections ?? 8,
    types: RAW_TEXT,
  });
  pool.on('error', () => undefined);
  const transactions = new TransactionTable(pool, { idleMs: options.transactionIdleMs ?? 180_000, sqlErrorType });
  const calls: Record<string, number> = {};
  const refusals = { request: 0, response: 0, row: 0 };
  let largestResponse = 0;
  const refused = (limit: keyof typeof refusals, message: string): DataApiFault => {
    refusals[limit] += 1;
    return badRequest(message);
  };
  const faults = new Map<string, Fault>();
  const statements: StatementContext = {
    transactions,
    sqlErrorType,
    maxSqlLength: options.maxSqlLength ?? DATA_API_MAX_SQL_LENGTH,
    maxRowBytes: options.maxRowBytes ?? 64 * 1024,
    checkResultTypes: resultTypeCheck(),
    refused,
  };

  const handle = async (route: string, body: Record<string, unknown>): Promise<unknown> => {
    calls[route] = (calls[route] ?? 0) + 1;
    injectFault(faults, route);
    for (const field of ['resourceArn', 'secretArn']) {
      if (!requireString(body, field).startsWith('arn:')) throw badRequest(`Invalid ${field}: not an ARN`);
    }
    switch (route) {
      case '/BeginTransaction':
        return { transactionId: await transactions.begin() };
      case '/CommitTransaction':
        return { transactionStatus: await transactions.finish(body.transactionId, 'COMMIT') };
      case '/RollbackTransaction':
        return { transactionStatus: await transactions.finish(body.transactionId, 'ROLLBACK') };
      case '/Execute':
        return execute(statements, body);
      case '/BatchExecute':
        return batchExecute(statements, body);
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
      const fail = (err: unknown): void => respondWithFault(res, err);
      const size = requestBytes(req) + body.length;
      if (size > limits.request)
        return fail(refused('request', `Request size ${size} exceeds the ${limits.request}-byte limit`));
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
        respond(res, 200, out);
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
      await transactions.rollBackAll();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

/** The database URL with the session settings of the service: TimeZone UTC (Aurora's default) and its statement timeout. */
function sessionUrl(databaseUrl: string, options: DataApiServerOptions): string {
  const url = new URL(databaseUrl);
  const statementTimeoutMs = options.statementTimeoutMs ?? 45_000;
  url.searchParams.set(
    'options',
    `${url.searchParams.get('options') ?? ''} -c TimeZone=UTC -c statement_timeout=${statementTimeoutMs}`.trim(),
  );
  return url.toString();
}

/** Throws the fault failNext set for `route`, while it has calls left. */
function injectFault(faults: Map<string, Fault>, route: string): void {
  const fault = faults.get(route);
  if (!fault || fault.times <= 0) return;
  fault.times -= 1;
  throw new DataApiFault(fault.type, fault.message, fault.status);
}

/** Request line + headers, as the service counts them toward the request size. */
function requestBytes(req: IncomingMessage): number {
  return req.rawHeaders.reduce((n, h) => n + Buffer.byteLength(h) + 2, 0) + `POST ${req.url} HTTP/1.1\r\n\r\n`.length;
}

function respond(res: ServerResponse, status: number, out: unknown, type?: string): void {
  const text = JSON.stringify(out);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(type ? { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.rdsdataservice/` } : {}),
  });
  res.end(text);
}

/** A DataApiFault as the service answers it (status and x-amzn-ErrorType the SDK maps); anything else a 500. */
function respondWithFault(res: ServerResponse, err: unknown): void {
  if (err instanceof DataApiFault) return respond(res, err.status, { message: err.message }, err.type);
  respond(res, 500, { message: 'Internal error' }, 'InternalServerErrorException');
}
