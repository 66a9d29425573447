import type pg from 'pg';
import { badRequest, type DataApiFault } from './faults';
import { toPositional, type WireParameter } from './named-parameters';
import { columnMetadata, toField, toJsonValue, type ResultSetOptions } from './results';
import { runStatement, type SqlErrorType } from './run-statement';
import type { TransactionTable } from './transactions';

/** What the Execute and BatchExecute routes need from the server. */
export interface StatementContext {
  readonly transactions: TransactionTable;
  readonly sqlErrorType: SqlErrorType;
  readonly maxSqlLength: number;
  readonly maxRowBytes: number;
  /** Refuses a result with a result column of a type the service does not return (results.ts). */
  readonly checkResultTypes: (client: pg.PoolClient, fields: pg.FieldDef[]) => Promise<void>;
  /** A BadRequestException for a passed size limit, counted by the server. */
  readonly refused: (limit: 'row', message: string) => DataApiFault;
}

/** POST /Execute: one statement, in the given transaction or autocommitted; typed records or formattedRecords. */
export async function execute(ctx: StatementContext, body: Record<string, unknown>): Promise<unknown> {
  const sql = requireSql(ctx, body);
  const { text, values } = toPositional(sql, (body.parameters as WireParameter[] | undefined) ?? []);
  const statement = async (client: pg.PoolClient): Promise<pg.QueryResult> => {
    const result = await runStatement(client, text, values, ctx.sqlErrorType);
    if (result.fields?.length) await ctx.checkResultTypes(client, result.fields);
    return result;
  };
  const result =
    body.transactionId !== undefined
      ? await ctx.transactions.within(body.transactionId, statement)
      : await ctx.transactions.autocommit(statement);
  if (!result.fields?.length) return { numberOfRecordsUpdated: result.rowCount ?? 0, generatedFields: [] };
  const resultOptions = (body.resultSetOptions as ResultSetOptions | undefined) ?? {};
  const records = (result.rows as unknown as (string | null)[][]).map((row) => {
    const record = result.fields.map((f, i) => toField(row[i] ?? null, f.dataTypeID, resultOptions));
    if (Buffer.byteLength(JSON.stringify(record)) > ctx.maxRowBytes)
      throw ctx.refused('row', 'Packet for query is too large');
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
}

/** POST /BatchExecute: the statement once per parameter set, in the given transaction or in one of its own. */
export async function batchExecute(ctx: StatementContext, body: Record<string, unknown>): Promise<unknown> {
  const sql = requireSql(ctx, body);
  const sets = (body.parameterSets as WireParameter[][] | undefined) ?? [[]];
  const statements = sets.map((set) => toPositional(sql, set));
  const runAll = async (client: pg.PoolClient): Promise<unknown> => {
    for (const s of statements) await runStatement(client, s.text, s.values, ctx.sqlErrorType);
    return { updateResults: statements.map(() => ({ generatedFields: [] })) };
  };
  if (body.transactionId !== undefined) return ctx.transactions.within(body.transactionId, runAll);
  return ctx.transactions.autocommit(async (client) => {
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
}

/** A non-empty string field of the request, else BadRequestException naming it. */
export function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw badRequest(`${field} is required`);
  return value;
}

function requireSql(ctx: StatementContext, body: Record<string, unknown>): string {
  const sql = requireString(body, 'sql');
  if (sql.length > ctx.maxSqlLength)
    throw badRequest(`sql is ${sql.length} characters long, more than the ${ctx.maxSqlLength} allowed`);
  return sql;
}
