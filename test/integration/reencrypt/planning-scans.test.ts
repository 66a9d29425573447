import type { Sql } from '../../../functions/core/ports/sql';
import { planTable } from '../../../functions/core/reencrypt/batches/planner';
import { parseRegistry } from '../../../functions/core/reencrypt/config/registry';
import { TableStatements } from '../../../functions/core/reencrypt/sql/statements';
import { describeTable } from '../../../functions/core/reencrypt/sql/table-shape';
import { freshDatabase, requireRealPostgres, type TestDatabase } from '../../support/database';

/**
 * Every planning and verify statement must stop reading where its page,
 * slice or range ends, whatever the table's size: on a 100 M-row table a
 * statement that reads every remaining row passes the Data API's 45 s limit,
 * and pages that each re-read the rest make planning quadratic. Checked on
 * the real PostgreSQL with EXPLAIN (ANALYZE, FORMAT JSON): no sequential
 * scan, every scan reads at most its statement's bound, and no Sort over
 * more rows than that bound.
 */
interface PlanNode {
  readonly 'Node Type': string;
  readonly 'Actual Rows': number;
  readonly 'Actual Loops': number;
  readonly 'Rows Removed by Filter'?: number;
  readonly 'Relation Name'?: string;
  readonly Plans?: readonly PlanNode[];
}

const ROWS = 60_000;
let db: TestDatabase;

beforeAll(async () => {
  requireRealPostgres('EXPLAIN ANALYZE of the planner on a real server');
  db = await freshDatabase();
  // Every third row is already on the target key: the scans must also skip rows that need no work.
  await db.sql.query(`CREATE TABLE scan_ints (id bigint PRIMARY KEY, key_id text, secret text)`);
  await db.sql.query(
    `INSERT INTO scan_ints SELECT g, CASE WHEN g % 3 = 0 THEN 'kek-v2' ELSE 'kek-v1' END, 'v' || g FROM generate_series(1, $1::int) g`,
    [ROWS],
  );
  await db.sql.query(
    `CREATE TABLE scan_uuids (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), key_id text, secret text)`,
  );
  await db.sql.query(
    `INSERT INTO scan_uuids (key_id, secret) SELECT 'kek-v1', 'v' || g FROM generate_series(1, $1::int) g`,
    [ROWS],
  );
  await db.sql.query('ANALYZE scan_ints');
  await db.sql.query('ANALYZE scan_uuids');
});
afterAll(async () => {
  await db?.drop();
});

const registry = parseRegistry({
  tables: [
    { name: 'scan_ints', idColumn: 'id', columns: ['secret'], keyIdColumn: 'key_id' },
    { name: 'scan_uuids', idColumn: 'id', columns: ['secret'], keyIdColumn: 'key_id' },
  ],
});

async function plan(text: string, params: readonly unknown[]): Promise<PlanNode> {
  const { rows } = await db.sql.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
    params as never,
  );
  return rows[0]!['QUERY PLAN'][0].Plan;
}

function nodes(root: PlanNode): PlanNode[] {
  return [root, ...(root.Plans ?? []).flatMap(nodes)];
}

/** Rows a scan node looked at: the rows it returned and those its filter dropped, over all its loops. */
const examined = (n: PlanNode): number => (n['Actual Rows'] + (n['Rows Removed by Filter'] ?? 0)) * n['Actual Loops'];
const isTableScan = (n: PlanNode): boolean => n['Relation Name'] !== undefined;

/** The plan reads at most `bound` rows of the table (with one more to learn the range ended) and sorts no more. */
function expectBounded(root: PlanNode, bound: number, what: string): void {
  const all = nodes(root);
  const scans = all.filter(isTableScan);
  const violations: string[] = [];
  if (scans.length === 0) violations.push(`${what}: no scan of the table in the plan`);
  for (const scan of scans) {
    if (scan['Node Type'] === 'Seq Scan') violations.push(`${what}: sequential scan of ${scan['Relation Name']}`);
    if (examined(scan) > bound + 1)
      violations.push(`${what}: ${scan['Node Type']} read ${examined(scan)} rows, bound ${bound}`);
  }
  for (const sort of all.filter((n) => n['Node Type'] === 'Sort')) {
    const input = sort.Plans?.[0];
    const sorted = input ? input['Actual Rows'] * input['Actual Loops'] : 0;
    if (sorted > bound + 1) violations.push(`${what}: sorts ${sorted} rows, bound ${bound}`);
  }
  expect(violations).toEqual([]);
}

describe.each([
  { table: 'scan_ints', pendingShare: 2 / 3, after: '20000' },
  { table: 'scan_uuids', pendingShare: 1, after: '80000000-0000-0000-0000-000000000000' },
])('planning and verify statements on $table stop where their page ends', ({ table, pendingShare, after }) => {
  const entry = registry.tables.find((t) => t.name === table)!;
  let stmts: TableStatements;
  beforeAll(async () => {
    stmts = new TableStatements(entry, await describeTable(db.sql, entry), 'rewrap');
  });
  // A page's scan may read up to bound/pendingShare rows of which bound are pending (rows already on target are skipped).
  const scanBound = (pendingRows: number): number => Math.ceil(pendingRows / pendingShare) + 2;

  it('batch boundaries: page × batch size pending rows, from the start and after a boundary, and the result matches a full count', async () => {
    const batch = 500;
    const page = 8;
    expectBounded(
      await plan(stmts.batchBoundaries(false).text, ['kek-v2', batch, page]),
      scanBound(batch * page),
      'boundaries, first page',
    );
    expectBounded(
      await plan(stmts.batchBoundaries(true).text, ['kek-v2', batch, page, after]),
      scanBound(batch * page),
      'boundaries, later page',
    );
    // Still the right boundaries: every 500th pending row in id order.
    const got = (
      await db.sql.query<{ id: string }>(stmts.batchBoundaries(false).text, ['kek-v2', batch, page])
    ).rows.map((r) => r.id);
    // (Ordered by the id itself: the id's text sorts '99' after '105'.)
    const pending = (
      await db.sql.query<{ tid: string }>(
        `SELECT id::text AS tid FROM ${table} WHERE key_id IS DISTINCT FROM 'kek-v2' ORDER BY id`,
      )
    ).rows;
    const want = pending
      .filter((_, i) => (i + 1) % batch === 0)
      .slice(0, page)
      .map((r) => r.tid);
    expect(got).toEqual(want);
    expect(got).toHaveLength(page);
  });

  it('counting and verify slices: the slice size', async () => {
    const slice = 7_000;
    expectBounded(await plan(stmts.countByKeyIdSlice(false).text, ['kek-v2', slice]), slice, 'count slice, first');
    expectBounded(
      await plan(stmts.countByKeyIdSlice(true).text, ['kek-v2', slice, after]),
      slice,
      'count slice, later',
    );
    expectBounded(await plan(stmts.verifyCountsSlice(false).text, ['kek-v2', slice]), slice, 'verify slice, first');
    expectBounded(
      await plan(stmts.verifyCountsSlice(true).text, ['kek-v2', slice, after]),
      slice,
      'verify slice, later',
    );
  });

  it('keyset walk pages (planner without key id column, verify by values) and batch reads: the page or the range', async () => {
    expectBounded(await plan(stmts.selectPage(false).text, [1_000]), 1_000, 'walk page, first');
    expectBounded(await plan(stmts.selectPage(true).text, [1_000, after]), 1_000, 'walk page, later');
    const range = { lo: after, hi: null };
    const paged = stmts.selectRangePage(range, null, 300);
    expectBounded(await plan(paged.text, paged.params('kek-v2')), scanBound(300), 'batch read page');
  });
});

it('under a transport with limits (the Data API), a boundary page scans at most a counting slice, and the plan is the one pg makes', async () => {
  const entry = registry.tables.find((t) => t.name === 'scan_ints')!;
  const shape = await describeTable(db.sql, entry);
  const crypto = { classify: () => ({ kind: 'null' as const }) };
  const direct = await planTable({ sql: db.sql, crypto }, entry, shape, 'rewrap', 'kek-v2', 50);
  const pageLimits: number[] = [];
  const limited: Sql = {
    limits: { maxRequestBytes: 4 * 1024 * 1024, maxResponseBytes: 1024 * 1024 },
    query: (text, params) => {
      if (text.includes('row_number()')) pageLimits.push(Number(params![2]));
      return db.sql.query(text, params);
    },
    transaction: (fn) => db.sql.transaction(fn),
  };
  const sliced = await planTable({ sql: limited, crypto, countSliceRows: 3_000 }, entry, shape, 'rewrap', 'kek-v2', 50);
  expect(sliced).toEqual(direct);
  expect(pageLimits.length).toBeGreaterThan(1);
  // 3,000-row slices ÷ 50-row batches: no page asks for more than 60 boundaries, i.e. scans more than 3,000 pending rows.
  expect(Math.max(...pageLimits)).toBeLessThanOrEqual(60);
});
