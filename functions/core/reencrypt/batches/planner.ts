import type { Sql } from '../../ports/sql';
import { PageSizer } from '../sql/bounded-reads';
import type { Mode } from '../values/modes';
import type { FaultHook, StoredValue, ValueClass, ValueCrypto } from '../ports';
import { tableKey, type RegistryTable } from '../config/registry';
import { ID_ALIAS, TableStatements, toRowValues } from '../sql/statements';
import { RangeCutter, rangesFromBoundaries, type PlannedRange } from './range-cutter';
import type { IdType, TableShape } from '../sql/table-shape';
import { ALL_ROWS, inScope, type RowScope } from './row-scope';
import { rowNeedsWork, type RowValues } from '../values/transforms';

/**
 * Counts, per table, the rows not yet in the target state and cuts them into
 * keyset ranges of about `batchSize` such rows, so batches can run on any
 * number of workers independently. Never uses OFFSET; memory stays bounded by
 * one page of rows whatever the table's size. Reads only: a dry run is a plan
 * that is not executed.
 *
 * - With a key id column: one aggregate scan for the counts and one window
 *   query (`row_number() OVER (ORDER BY id)`, every batch-size-th pending id)
 *   for the boundaries.
 * - Without: a keyset walk in pages (`WHERE id > $last ORDER BY id LIMIT n`),
 *   classifying each value in memory from its header (no decryption).
 */

export interface TablePlan {
  readonly table: string;
  readonly idType: IdType;
  readonly rowsTotal: number;
  /** Rows not yet in the target state (NULL columns count as done). */
  readonly rowsPending: number;
  readonly ranges: readonly PlannedRange[];
  /** Pending values per key id they are under (envelopes, JSON key_id), for the audit trail and retire. */
  readonly sourceKeyIds: readonly string[];
}

export interface PlannerDeps {
  readonly sql: Sql;
  readonly crypto: Pick<ValueCrypto, 'classify'>;
  readonly faults?: FaultHook | undefined;
  /** Rows per page of the keyset walk, and batch boundaries per page with a key id column. Default 2,000. */
  readonly pageSize?: number | undefined;
  /** Rows per counting slice under transport limits (tests make it small). @default COUNT_SLICE_ROWS */
  readonly countSliceRows?: number | undefined;
}

export const DEFAULT_PAGE_SIZE = 2000;

export async function planTable(
  deps: PlannerDeps,
  table: RegistryTable,
  shape: TableShape,
  mode: Mode,
  targetKeyId: string,
  batchSize: number,
  scope: RowScope = ALL_ROWS,
): Promise<TablePlan> {
  const stmts = new TableStatements(table, shape, mode);
  const key = tableKey(table);
  // A tenant-scoped job walks and tells rows by their tenant in memory; the SQL counts see every tenant.
  if (table.keyIdColumn && scope.kind === 'all') {
    return planFromKeyIdCounts(deps, stmts, key, shape, targetKeyId, batchSize);
  }
  return planByKeysetWalk(deps, stmts, key, shape, { table, mode, targetKeyId, scope }, batchSize);
}

/** With a key id column: SQL counts rows per key id, and a window query gives the batch boundaries. */
async function planFromKeyIdCounts(
  deps: PlannerDeps,
  stmts: TableStatements,
  key: string,
  shape: TableShape,
  targetKeyId: string,
  batchSize: number,
): Promise<TablePlan> {
  const counts = await countByKeyId(deps, stmts, targetKeyId);
  const rowsTotal = sum(counts.map((r) => Number(r.total)));
  const rowsPending = sum(counts.map((r) => Number(r.pending)));
  const sourceKeyIds = counts
    .filter((r) => Number(r.pending) > 0 && r.key_id !== null && r.key_id !== targetKeyId)
    .map((r) => r.key_id!)
    .sort();
  await deps.faults?.('plan.counted');
  const boundaries = rowsPending >= batchSize ? await batchBoundaries(deps, stmts, targetKeyId, batchSize) : [];
  return {
    table: key,
    idType: shape.idType,
    rowsTotal,
    rowsPending,
    ranges: rangesFromBoundaries(boundaries, rowsPending, batchSize),
    sourceKeyIds,
  };
}

/** What the keyset walk needs to tell a row's state: the table, the job's mode, target key and tenant scope. */
interface WalkJob {
  readonly table: RegistryTable;
  readonly mode: Mode;
  readonly targetKeyId: string;
  readonly scope: RowScope;
}

/** The walk's running totals, page after page. */
interface WalkTally {
  rowsTotal: number;
  rowsPending: number;
  readonly cutter: RangeCutter;
  readonly sources: Set<string>;
}

/** No key id column: walk the table in keyset pages and classify each value from its header. */
async function planByKeysetWalk(
  deps: PlannerDeps,
  stmts: TableStatements,
  key: string,
  shape: TableShape,
  job: WalkJob,
  batchSize: number,
): Promise<TablePlan> {
  const pages = new PageSizer(deps.sql.limits, deps.pageSize ?? DEFAULT_PAGE_SIZE);
  const tally: WalkTally = { rowsTotal: 0, rowsPending: 0, cutter: new RangeCutter(batchSize), sources: new Set() };
  const classifier = pageClassifier(deps.crypto);
  const ctx = { ...job, crypto: { classify: classifier.classify } };
  let last: string | null = null;
  for (;;) {
    const page = await readWalkPage(deps, pages, stmts, last);
    classifier.forget();
    for (const r of page.rows) tallyRow(toRowValues(r, stmts.sets.read), ctx, classifier.classify, tally);
    await deps.faults?.('plan.page');
    if (page.rows.length < page.limit) break;
    last = String(page.rows[page.rows.length - 1]![ID_ALIAS]);
  }
  return {
    table: key,
    idType: shape.idType,
    rowsTotal: tally.rowsTotal,
    rowsPending: tally.rowsPending,
    ranges: tally.cutter.finish(),
    sourceKeyIds: [...tally.sources].sort(),
  };
}

/**
 * Each value classified once per page: a Fernet token's class costs an HMAC
 * per configured key. `forget` drops the page's classes before the next one,
 * so memory stays bounded by one page.
 */
function pageClassifier(crypto: Pick<ValueCrypto, 'classify'>): {
  classify: (value: StoredValue | null) => ValueClass;
  forget: () => void;
} {
  const seen = new Map<StoredValue, ValueClass>();
  const classify = (value: StoredValue | null): ValueClass => {
    if (value === null) return crypto.classify(null);
    let cls = seen.get(value);
    if (cls === undefined) seen.set(value, (cls = crypto.classify(value)));
    return cls;
  };
  return { classify, forget: () => seen.clear() };
}

/** The next page of the walk, after the id `after` (from the table's start when null). */
function readWalkPage(
  deps: PlannerDeps,
  pages: PageSizer,
  stmts: TableStatements,
  after: string | null,
): Promise<{ rows: Record<string, unknown>[]; limit: number }> {
  return pages.read((limit) =>
    after === null
      ? deps.sql.query(stmts.selectPage(false).text, [limit])
      : deps.sql.query(stmts.selectPage(true).text, [limit, after]),
  );
}

/** Counts one row of the walk and, when it needs work, cuts it into a range and notes its source key ids. */
function tallyRow(
  row: RowValues,
  ctx: WalkJob & { readonly crypto: Pick<ValueCrypto, 'classify'> },
  classify: (value: StoredValue | null) => ValueClass,
  tally: WalkTally,
): void {
  if (!inScope(row.tenant, ctx.scope)) return; // another tenant's row: not counted in this job's totals
  tally.rowsTotal++;
  if (rowNeedsWork(row, ctx)) {
    tally.rowsPending++;
    tally.cutter.add(row.id);
    for (const c of ctx.table.columns) {
      const cls = classify(row.values[c] ?? null);
      // Envelope and JSON key ids, Fernet tokens by their key's id: the keys this job moves values off.
      if (
        (cls.kind === 'envelope' || cls.kind === 'json-key-id' || cls.kind === 'fernet') &&
        cls.keyId &&
        cls.keyId !== ctx.targetKeyId
      )
        tally.sources.add(cls.keyId);
    }
  }
}

/** Rows per counting slice under a transport's limits: well inside the Data API's 45 s on an indexed scan. */
export const COUNT_SLICE_ROWS = 500_000;

interface KeyIdCount {
  readonly key_id: string | null;
  readonly total: string;
  readonly pending: string;
}

/**
 * Rows and pending rows per key id. Without transport limits (node-postgres)
 * one GROUP BY over the table; under them (the Data API, whose statements
 * stop after 45 s) in slices of COUNT_SLICE_ROWS rows in id order, summed
 * here, so a 100 M-row table is 200 bounded statements instead of one that
 * times out.
 */
async function countByKeyId(deps: PlannerDeps, stmts: TableStatements, targetKeyId: string): Promise<KeyIdCount[]> {
  if (!deps.sql.limits) return (await deps.sql.query<KeyIdCount>(stmts.countByKeyId().text, [targetKeyId])).rows;
  const sliceRows = deps.countSliceRows ?? COUNT_SLICE_ROWS;
  const byKey = new Map<string | null, { total: number; pending: number }>();
  let after: string | null = null;
  for (;;) {
    type SliceRow = KeyIdCount & { slice_rows: string; last_id: string | null };
    const params: (string | number)[] = after === null ? [targetKeyId, sliceRows] : [targetKeyId, sliceRows, after];
    const rows: SliceRow[] = (await deps.sql.query<SliceRow>(stmts.countByKeyIdSlice(after !== null).text, params))
      .rows;
    for (const r of rows) {
      const sums = byKey.get(r.key_id) ?? { total: 0, pending: 0 };
      byKey.set(r.key_id, { total: sums.total + Number(r.total), pending: sums.pending + Number(r.pending) });
    }
    const first: SliceRow | undefined = rows[0];
    if (!first || Number(first.slice_rows) < sliceRows || first.last_id === null) break;
    after = first.last_id;
  }
  return [...byKey].map(([key_id, c]) => ({ key_id, total: String(c.total), pending: String(c.pending) }));
}

/**
 * Every batch-size-th pending id, in pages: 100 M rows cut into 2,000-row
 * batches is 50,000 ids, more than one Data API result may hold (1 MiB),
 * and one window over the whole table could outlast its 45 s statement
 * timeout. Each page's scan stops after page × batch size pending rows
 * (statements.ts), so planning reads the table once in all. Pages are sized
 * like the walk's (PageSizer); under a transport's limits a page also scans
 * at most the counting slice's rows, so no statement nears the timeout
 * whatever the batch size.
 */
async function batchBoundaries(
  deps: PlannerDeps,
  stmts: TableStatements,
  targetKeyId: string,
  batchSize: number,
): Promise<string[]> {
  const requested = deps.pageSize ?? DEFAULT_PAGE_SIZE;
  const scanBound = Math.max(1, Math.floor((deps.countSliceRows ?? COUNT_SLICE_ROWS) / batchSize));
  const pages = new PageSizer(deps.sql.limits, deps.sql.limits ? Math.min(requested, scanBound) : requested);
  const boundaries: string[] = [];
  for (;;) {
    const after = boundaries.length > 0 ? boundaries[boundaries.length - 1]! : null;
    const page = await pages.read((limit) =>
      after === null
        ? deps.sql.query<{ id: string }>(stmts.batchBoundaries(false).text, [targetKeyId, batchSize, limit])
        : deps.sql.query<{ id: string }>(stmts.batchBoundaries(true).text, [targetKeyId, batchSize, limit, after]),
    );
    for (const r of page.rows) boundaries.push(r.id);
    if (page.rows.length < page.limit) return boundaries;
  }
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** The verb of a mode in reports: `Would re-encrypt 42 of 100 records`. */
export function modeVerb(mode: Mode): string {
  return mode === 'encrypt' ? 'encrypt' : mode === 'migrate' ? 'migrate' : 're-encrypt';
}

/**
 * The dry-run report, in the words of the runbook's tool: one line per table
 * and one for the total.
 */
export function formatDryRun(
  mode: Mode,
  plans: readonly Pick<TablePlan, 'table' | 'rowsTotal' | 'rowsPending'>[],
): string[] {
  const verb = modeVerb(mode);
  const lines = plans.map((p) => `DRY RUN: ${p.table}: Would ${verb} ${p.rowsPending} of ${p.rowsTotal} records`);
  const pending = sum(plans.map((p) => p.rowsPending));
  const total = sum(plans.map((p) => p.rowsTotal));
  lines.push(`DRY RUN: Would ${verb} ${pending} of ${total} records`);
  return lines;
}
