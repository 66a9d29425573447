import { PageSizer } from '../sql/bounded-reads';
import type { VerifyDeps } from '../ports';
import { DEFAULT_PAGE_SIZE } from '../batches/planner';
import { selectTables, tableKey, type RegistryTable } from '../config/registry';
import { ID_ALIAS, TableStatements, toRowValues } from '../sql/statements';
import { TableShapeCache, type TableShape } from '../sql/table-shape';
import { ALL_ROWS, inScope, type RowScope } from '../batches/row-scope';
import { targetFormat, targetKeyFor, type ValueFormat } from '../values/formats';
import type { Mode } from '../values/modes';
import { countWithKeyIdColumn } from './key-id-counts';
import { TableTally, type ToDecrypt } from './table-tally';

/**
 * Counts what the registered columns hold: values per key version, legacy
 * (Fernet, JSON key_id), plaintext and NULL, per table, from each value's
 * header — and, with `decrypt`, decrypts every value and counts failures by
 * error code. No plaintext leaves this module: decrypted buffers are zeroed
 * and only counts and row ids are reported.
 */

export interface ValueCounts {
  /** Envelope values per key id. */
  readonly envelopes: Record<string, number>;
  readonly fernet: number;
  /**
   * Fernet tokens per key: the catalog id (`fernet:<fingerprint>`) of the
   * configured key whose HMAC verifies each, `(unknown fernet key)` when none
   * does. Never the key itself.
   */
  readonly fernetByKey?: Record<string, number>;
  /** JSON key_id values per legacy key id (`(none)` when the value names none). */
  readonly jsonKeyId: Record<string, number>;
  readonly plaintext: number;
  readonly null: number;
}

export interface DecryptCounts {
  readonly checked: number;
  readonly failed: number;
  readonly byCode: Record<string, number>;
  /** The first failing rows (ids only), for the operator to look at. */
  readonly failedRowIds: readonly string[];
}

export interface TableVerify {
  readonly table: string;
  /** The format its values are checked against (the table's, rk1 in migrate mode). @default 'rk1' */
  readonly format?: ValueFormat;
  /** The key its values should be under, when it is not the report's targetKeyId (a Fernet table). */
  readonly targetKeyId?: string;
  readonly rows: number;
  /** Rows whose every encrypted column is NULL or an envelope under the target key. */
  readonly rowsOnTarget: number;
  readonly rowsNotOnTarget: number;
  /**
   * Rows whose plaintext source (an encrypt-mode mapping) still holds a value
   * encrypt mode would move: unprotected data. Counted, never shown.
   */
  readonly rowsWithPlaintextSource: number;
  readonly values: ValueCounts;
  readonly decrypt?: DecryptCounts;
}

export interface VerifyReport {
  readonly targetKeyId: string;
  /** The primary Fernet key Fernet tables were checked against, when given. */
  readonly fernetTargetKeyId?: string;
  readonly tables: readonly TableVerify[];
  /** Values under each key id — envelopes, JSON key_id values, Fernet tokens by key — over all verified tables. */
  readonly keys: Readonly<Record<string, number>>;
  /** Every row of every verified table is on the target key. */
  readonly allOnTarget: boolean;
  readonly decryptFailures: number;
  /** Rows with a plaintext source still waiting for encrypt mode, over all verified tables. */
  readonly plaintextSources: number;
  /** The rows verified, by tenant (a tenant job verifies its tenant's rows). */
  readonly scope: RowScope;
  /** allOnTarget, no plaintext source waiting, and (when decrypting) every value decrypted. */
  readonly ok: boolean;
}

export interface VerifyOptions {
  /** The key every row should be under (the primary key). */
  readonly targetKeyId: string;
  /** The key a Fernet table's tokens should be under (the primary Fernet key). @default none: Fernet rows count as off target */
  readonly fernetTargetKeyId?: string | undefined;
  /** The job's mode: `migrate` verifies every table against rk1, others against the table's format. @default 'rewrap' */
  readonly mode?: Mode | undefined;
  /** Table names; all registered tables when absent. */
  readonly tables?: readonly string[] | undefined;
  /** Decrypt every value and count failures. */
  readonly decrypt?: boolean | undefined;
  readonly pageSize?: number | undefined;
  /** Decryptions in flight (kms keyring). Default 16. */
  readonly concurrency?: number | undefined;
  /** Only these rows, by tenant (a job's scope). @default every row */
  readonly scope?: RowScope | undefined;
  /** Rows per counting slice on key id column tables (tests make it small). @default COUNT_SLICE_ROWS */
  readonly countSliceRows?: number | undefined;
}

export async function verify(deps: VerifyDeps, options: VerifyOptions): Promise<VerifyReport> {
  const tables = selectTables(deps.registry, options.tables);
  const results: TableVerify[] = [];
  for (const table of tables) results.push(await verifyTable(deps, table, options));
  const keys: Record<string, number> = {};
  for (const t of results) {
    for (const [k, n] of Object.entries(t.values.envelopes)) keys[k] = (keys[k] ?? 0) + n;
    for (const [k, n] of Object.entries(t.values.jsonKeyId)) keys[k] = (keys[k] ?? 0) + n;
    for (const [k, n] of Object.entries(t.values.fernetByKey ?? {})) keys[k] = (keys[k] ?? 0) + n;
  }
  const allOnTarget = results.every((t) => t.rowsNotOnTarget === 0);
  const decryptFailures = results.reduce((a, t) => a + (t.decrypt?.failed ?? 0), 0);
  const plaintextSources = results.reduce((a, t) => a + t.rowsWithPlaintextSource, 0);
  return {
    targetKeyId: options.targetKeyId,
    ...(options.fernetTargetKeyId ? { fernetTargetKeyId: options.fernetTargetKeyId } : {}),
    tables: results,
    keys,
    allOnTarget,
    decryptFailures,
    plaintextSources,
    scope: options.scope ?? ALL_ROWS,
    ok: allOnTarget && decryptFailures === 0 && plaintextSources === 0,
  };
}

async function verifyTable(deps: VerifyDeps, table: RegistryTable, options: VerifyOptions): Promise<TableVerify> {
  const shape = await (deps.shapes ?? new TableShapeCache()).get(deps.sql, table);
  // With a key id column and nothing to decrypt, count in SQL (in bounded slices): a 100 M-row table is
  // 200 statements instead of 50,000 pages through the Data API. A tenant scope needs the rows.
  if (table.keyIdColumn && !options.decrypt && (options.scope ?? ALL_ROWS).kind === 'all') {
    const counted = await countWithKeyIdColumn(deps, table, shape, options);
    if (counted) return counted;
  }
  const mode = options.mode ?? 'rewrap';
  const target = targetKeyFor(table, mode, { keyId: options.targetKeyId, fernetKeyId: options.fernetTargetKeyId });
  const tally = new TableTally(table, deps.crypto, target, targetFormat(table, mode), options.decrypt === true);
  await countPages(deps, table, shape, options, tally);
  return tally.result(tableKey(table), options.targetKeyId);
}

/** Reads the table page by page in id order and counts every row of the scope. */
async function countPages(
  deps: VerifyDeps,
  table: RegistryTable,
  shape: TableShape,
  options: VerifyOptions,
  tally: TableTally,
): Promise<void> {
  // The encrypted columns, and the plaintext sources of encrypt-mode mappings (counted as waiting, never read out).
  const stmts = new TableStatements(table, shape, 'rewrap');
  const sources = table.encrypt.map((m) => m.source);
  const read = [...table.columns, ...sources.filter((c) => !table.columns.includes(c))];
  const scope = options.scope ?? ALL_ROWS;
  const pages = new PageSizer(deps.sql.limits, options.pageSize ?? DEFAULT_PAGE_SIZE);
  let last: string | null = null;
  for (;;) {
    const after: string | null = last;
    const page: { rows: Record<string, unknown>[]; limit: number } = await pages.read((limit) =>
      after === null
        ? deps.sql.query(stmts.selectPage(false, read).text, [limit])
        : deps.sql.query(stmts.selectPage(true, read).text, [limit, after]),
    );
    const toDecrypt: ToDecrypt[] = [];
    for (const r of page.rows) {
      const row = toRowValues(r, read);
      if (!inScope(row.tenant, scope)) continue; // another tenant's row: not this verify's
      tally.countRow(row, toDecrypt);
    }
    await tally.decryptAll(toDecrypt, options.concurrency ?? 16);
    await deps.faults?.('verify.page');
    if (page.rows.length < page.limit) break;
    last = String(page.rows[page.rows.length - 1]![ID_ALIAS]);
  }
}
