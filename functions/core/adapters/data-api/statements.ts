import { BatchExecuteStatementCommand, ExecuteStatementCommand, type SqlParameter } from '@aws-sdk/client-rds-data';
import type { SqlResult, SqlValue } from '../../ports/sql';
import { checkSqlLength, splitParameterSets } from './batch';
import { DataApiParameterError } from './errors';
import { rewritePositional } from './positional';
import type { DataApiSession } from './session';
import { decodeField, encodeParameter } from './values';

/**
 * One statement (ExecuteStatement) and one batch (BatchExecuteStatement) over
 * a session, inside a transaction when given its id: `$n` parameters encoded,
 * rows decoded into the shape the pg adapter returns.
 */
export async function executeStatement<Row>(
  session: DataApiSession,
  text: string,
  params: readonly SqlValue[] | undefined,
  transactionId: string | undefined,
): Promise<SqlResult<Row>> {
  const { sql, parameters } = encodeStatement(text, params ?? []);
  const output = await session.call('ExecuteStatement', () =>
    session.client.send(
      new ExecuteStatementCommand({
        ...session.target,
        ...session.database,
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
}

/** Runs `text` once per parameter set in as many requests as the size limit needs; returns the request count. */
export async function executeBatchRequests(
  session: DataApiSession,
  text: string,
  sets: readonly (readonly SqlValue[])[],
  transactionId: string,
): Promise<number> {
  const { sql, parameterSets: encoded } = encodeBatch(text, sets);
  const { target, database } = session;
  const requests = splitParameterSets(
    { ...target, ...database, sql, transactionId },
    encoded,
    session.limits.maxRequestBytes,
  );
  for (const parameterSets of requests) {
    await session.call('BatchExecuteStatement', () =>
      session.client.send(
        new BatchExecuteStatementCommand({ ...target, ...database, sql, parameterSets, transactionId }),
      ),
    );
  }
  return requests.length;
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
