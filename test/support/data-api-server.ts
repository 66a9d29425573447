import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import pg from 'pg';

/**
 * A Data API endpoint backed by a real PostgreSQL, faithful enough that the
 * real @aws-sdk/client-rds-data client (endpoint override, fake credentials)
 * proves the adapter: REST-JSON routes /Execute, /BeginTransaction,
 * /CommitTransaction, /RollbackTransaction; named `:param` parameters with
 * typed values (stringValue, longValue, doubleValue, booleanValue, isNull,
 * blobValue base64) and typeHints (TIMESTAMP, DATE, TIME, DECIMAL, UUID,
 * JSON); typed records + columnMetadata; one statement per call; a
 * dedicated connection per transaction id; errors as BadRequestException
 * with PostgreSQL's message and SQLState. (npm's data-api-local mishandles
 * blobs, hence this.)
 */
export interface DataApiServer {
  readonly endpoint: string;
  /** Requests served, by route. */
  readonly calls: Record<string, number>;
  close(): Promise<void>;
}

const HINT_CAST: Record<string, string> = { TIMESTAMP: 'timestamp', DATE: 'date', TIME: 'time', DECIMAL: 'numeric', UUID: 'uuid', JSON: 'jsonb' };
const TYPE_NAMES: Record<number, string> = {
  16: 'bool', 17: 'bytea', 20: 'int8', 21: 'int2', 23: 'int4', 25: 'text', 114: 'json', 700: 'float4', 701: 'float8',
  1043: 'varchar', 1082: 'date', 1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 3802: 'jsonb',
  1000: '_bool', 1009: '_text', 1015: '_varchar', 1016: '_int8', 1007: '_int4', 2951: '_uuid', 19: 'name', 26: 'oid',
};
// Text as the Data API returns it, except the types it returns natively.
const TEXT = (v: string): string => v;
const types = {
  getTypeParser: (oid: number, format?: string): unknown => {
    if ([16, 17, 21, 23, 700, 701, 1000, 1009, 1015, 1016, 1007, 2951].includes(oid)) return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
    return TEXT;
  },
} as pg.CustomTypesConfig;

interface DataApiValue {
  stringValue?: string;
  longValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  isNull?: boolean;
  blobValue?: string;
}

export async function startDataApiServer(databaseUrl: string): Promise<DataApiServer> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, types });
  const transactions = new Map<string, { client: pg.PoolClient; timer: NodeJS.Timeout }>();
  const calls: Record<string, number> = {};

  const handle = async (route: string, body: Record<string, unknown>): Promise<unknown> => {
    calls[route] = (calls[route] ?? 0) + 1;
    for (const field of ['resourceArn', 'secretArn']) {
      if (typeof body[field] !== 'string' || !(body[field] as string).startsWith('arn:')) throw badRequest(`${field} must be an ARN`);
    }
    switch (route) {
      case '/BeginTransaction': {
        const client = await pool.connect();
        await client.query('BEGIN');
        const id = randomUUID();
        // Abandoned transactions are rolled back after 3 minutes, as the service does.
        const timer = setTimeout(() => void finish(id, 'ROLLBACK'), 180_000);
        timer.unref();
        transactions.set(id, { client, timer });
        return { transactionId: id };
      }
      case '/CommitTransaction':
        return { transactionStatus: await finish(String(body.transactionId), 'COMMIT') };
      case '/RollbackTransaction':
        return { transactionStatus: await finish(String(body.transactionId), 'ROLLBACK') };
      case '/Execute':
        return execute(body);
      default:
        throw badRequest(`unsupported operation ${route}`);
    }
  };

  const finish = async (id: string, verb: 'COMMIT' | 'ROLLBACK'): Promise<string> => {
    const tx = transactions.get(id);
    if (!tx) throw badRequest(`Transaction ${id} is not found`);
    transactions.delete(id);
    clearTimeout(tx.timer);
    try {
      await tx.client.query(verb);
    } finally {
      tx.client.release();
    }
    return verb === 'COMMIT' ? 'Transaction Committed' : 'Rollback Complete';
  };

  const execute = async (body: Record<string, unknown>): Promise<unknown> => {
    if (typeof body.sql !== 'string') throw badRequest('sql is required');
    const params = (body.parameters as { name: string; value: DataApiValue; typeHint?: string }[] | undefined) ?? [];
    const { text, values } = toPositional(body.sql, params);
    const tx = body.transactionId ? transactions.get(String(body.transactionId)) : undefined;
    if (body.transactionId && !tx) throw badRequest(`Transaction ${String(body.transactionId)} is not found`);
    let result: pg.QueryResult;
    try {
      result = await (tx ? tx.client : pool).query({ text, values });
    } catch (err) {
      const e = err as { message?: string; code?: string; detail?: string };
      throw badRequest(`ERROR: ${e.message}${e.detail ? `\n  Detail: ${e.detail}` : ''}; SQLState: ${e.code ?? 'XX000'}`);
    }
    if (Array.isArray(result)) throw badRequest('Multistatements aren\'t supported.');
    const fields = result.fields ?? [];
    const isQuery = result.command === 'SELECT' || fields.length > 0;
    return {
      numberOfRecordsUpdated: isQuery ? 0 : result.rowCount ?? 0,
      generatedFields: [],
      ...(isQuery
        ? {
            records: result.rows.map((row: Record<string, unknown>) => fields.map((f) => toField(row[f.name], f.dataTypeID))),
            ...(body.includeResultMetadata
              ? { columnMetadata: fields.map((f) => ({ name: f.name, label: f.name, typeName: TYPE_NAMES[f.dataTypeID] ?? 'text', type: f.dataTypeID })) }
              : {}),
          }
        : {}),
    };
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const route = (req.url ?? '').split('?')[0]!;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        return reply(res, 400, { message: 'request body is not JSON' }, 'BadRequestException');
      }
      handle(route, body).then(
        (out) => reply(res, 200, out),
        (err: unknown) => {
          const e = err as { dataApiError?: string; message?: string };
          reply(res, 400, { message: e.message ?? String(err) }, e.dataApiError ?? 'BadRequestException');
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    close: async () => {
      for (const id of [...transactions.keys()]) await finish(id, 'ROLLBACK').catch(() => undefined);
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...(errorType ? { 'x-amzn-errortype': `${errorType}:http://internal.amazon.com/coral/com.amazon.rdsdataservice/` } : {}),
  });
  res.end(text);
}

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { dataApiError: 'BadRequestException' });
}

/** `:name` → `$k` (skipping `::casts`, quotes and comments), with the typeHint's cast and the value decoded. */
function toPositional(sql: string, params: readonly { name: string; value: DataApiValue; typeHint?: string }[]): { text: string; values: unknown[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const order: string[] = [];
  let text = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      text += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === ':' && sql[i + 1] === ':') {
      text += '::';
      i += 2;
    } else if (c === ':' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      const param = byName.get(name);
      if (!param) throw badRequest(`No value specified for parameter: ${name}`);
      if (!order.includes(name)) order.push(name);
      const cast = param.typeHint ? HINT_CAST[param.typeHint] : undefined;
      text += `$${order.indexOf(name) + 1}${cast ? `::${cast}` : ''}`;
      i += name.length + 1;
    } else {
      text += c;
      i += 1;
    }
  }
  const values = order.map((name) => {
    const v = byName.get(name)!.value;
    if (v.isNull) return null;
    if (v.blobValue !== undefined) return Buffer.from(v.blobValue, 'base64');
    if (v.longValue !== undefined) return v.longValue;
    if (v.doubleValue !== undefined) return v.doubleValue;
    if (v.booleanValue !== undefined) return v.booleanValue;
    if (v.stringValue !== undefined) return v.stringValue;
    throw badRequest(`parameter ${name} has no value`);
  });
  return { text, values };
}

function toField(value: unknown, oid: number): Record<string, unknown> {
  if (value === null || value === undefined) return { isNull: true };
  if (Buffer.isBuffer(value)) return { blobValue: value.toString('base64') };
  if (typeof value === 'boolean') return { booleanValue: value };
  if (typeof value === 'number') return Number.isInteger(value) && oid !== 700 && oid !== 701 ? { longValue: value } : { doubleValue: value };
  if (Array.isArray(value)) {
    if (oid === 1016 || oid === 1007) return { arrayValue: { longValues: value.map(Number) } };
    if (oid === 1000) return { arrayValue: { booleanValues: value } };
    return { arrayValue: { stringValues: value.map(String) } };
  }
  if (oid === 20) return { longValue: Number(value) };
  return { stringValue: String(value) };
}
