import { COUNT_SLICE_ROWS } from '../batches/planner';
import type { RegistryTable } from '../config/registry';
import { tableKey } from '../config/registry';
import { TableStatements } from '../sql/statements';
import type { TableShape } from '../sql/table-shape';
import { targetFormat } from '../values/formats';
import type { VerifyDeps } from '../ports';
import type { TableVerify, VerifyOptions } from './verify';

/** Rows per counting slice: the planner's, well inside the Data API's 45 s statement timeout. */
const VERIFY_SLICE_ROWS = COUNT_SLICE_ROWS;

/**
 * Verify's counts from the key id column. Undefined when a row holds values
 * but no key id: the column is not kept up to date there, so the caller reads
 * the values themselves instead of trusting it (a retire depends on these counts).
 */
export async function countWithKeyIdColumn(
  deps: VerifyDeps,
  table: RegistryTable,
  shape: TableShape,
  options: VerifyOptions,
): Promise<TableVerify | undefined> {
  const stmts = new TableStatements(table, shape, 'rewrap');
  const format = targetFormat(table, options.mode ?? 'rewrap');
  const sliceRows = options.countSliceRows ?? VERIFY_SLICE_ROWS;
  const envelopes: Record<string, number> = {};
  let rows = 0;
  let off = 0;
  let nulls = 0;
  let waiting = 0;
  let after: string | null = null;
  for (;;) {
    type Slice = {
      key_id: string | null;
      rows: string;
      off_target: string;
      vals: string;
      nulls: string;
      waiting: string;
      slice_rows: string;
      last_id: string | null;
    };
    const params: (string | number)[] =
      after === null ? [options.targetKeyId, sliceRows] : [options.targetKeyId, sliceRows, after];
    const result: Slice[] = (await deps.sql.query<Slice>(stmts.verifyCountsSlice(after !== null).text, params)).rows;
    for (const r of result) {
      const values = Number(r.vals);
      if (r.key_id === null && values > 0) return undefined;
      if (r.key_id !== null && values > 0) envelopes[r.key_id] = (envelopes[r.key_id] ?? 0) + values;
      rows += Number(r.rows);
      off += Number(r.off_target);
      nulls += Number(r.nulls);
      waiting += Number(r.waiting);
    }
    await deps.faults?.('verify.page');
    const first: Slice | undefined = result[0];
    if (!first || Number(first.slice_rows) < sliceRows || first.last_id === null) break;
    after = first.last_id;
  }
  return {
    table: tableKey(table),
    rows,
    rowsOnTarget: rows - off,
    rowsNotOnTarget: off,
    rowsWithPlaintextSource: waiting,
    values:
      format === 'json-key-id'
        ? { envelopes: {}, fernet: 0, fernetByKey: {}, jsonKeyId: envelopes, plaintext: 0, null: nulls }
        : { envelopes, fernet: 0, fernetByKey: {}, jsonKeyId: {}, plaintext: 0, null: nulls },
  };
}
