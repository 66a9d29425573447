import type { Sql, SqlValue } from '../../ports/sql';
import type { StoredValue } from '../ports';
import { chunkByBytes, estimateValueBytes, PageSizer } from '../sql/bounded-reads';
import { toRowValues, type TableStatements } from '../sql/statements';
import type { ClaimedBatch } from '../store/batch-leases';
import type { RowPlan, RowValues } from '../values/transforms';

/**
 * The batch executor's reads and writes of the rows of a registry table: the
 * batch's range read outside any transaction, and the compare-and-swap write
 * (with the re-read of the rows it lost) inside the batch's transaction.
 * Each pages or chunks itself when the transport limits result or request
 * size (the Data API's 1 MiB).
 */

/** Rows per page when a transport limit makes the executor page a batch's read; the sizer shrinks it to the rows' width. */
const LIMITED_READ_PAGE_ROWS = 2000;

/**
 * The batch's rows in id order: one SELECT, or with a transport response
 * limit (the Data API's 1 MiB), pages sized to the rows' width.
 */
export async function readBatchRows(sql: Sql, stmts: TableStatements, batch: ClaimedBatch): Promise<RowValues[]> {
  if (!sql.limits) {
    const select = stmts.selectRange(batch);
    return (await sql.query<Record<string, unknown>>(select.text, select.params(batch.targetKeyId))).rows.map((r) =>
      toRowValues(r, stmts.sets.read),
    );
  }
  const sizer = new PageSizer(sql.limits, LIMITED_READ_PAGE_ROWS);
  const rows: RowValues[] = [];
  let cursor: string | null = null;
  for (;;) {
    const after: string | null = cursor;
    const page = await sizer.read((limit) => {
      const select = stmts.selectRangePage(batch, after, limit);
      return sql.query<Record<string, unknown>>(select.text, select.params(batch.targetKeyId));
    });
    for (const r of page.rows) rows.push(toRowValues(r, stmts.sets.read));
    if (page.rows.length < page.limit) return rows;
    cursor = rows[rows.length - 1]!.id;
  }
}

/** Re-reads rows by id after a lost compare-and-swap, in pages when the transport limits results. */
export async function rereadRows(
  tx: Sql,
  stmts: TableStatements,
  ids: readonly string[],
  batchRows: number,
): Promise<RowValues[]> {
  const sizer = new PageSizer(tx.limits, Math.max(1, Math.min(ids.length, batchRows)));
  const rows: RowValues[] = [];
  for (let start = 0; start < ids.length;) {
    const page = await sizer.read((limit) =>
      tx.query<Record<string, unknown>>(stmts.selectByIds().text, [ids.slice(start, start + limit)]),
    );
    for (const r of page.rows) rows.push(toRowValues(r, stmts.sets.read));
    start += page.limit;
  }
  return rows;
}

/**
 * Writes every changed row of `plans` guarded by the values read — one
 * UPDATE, or with a transport request limit as many as the rows' bytes need,
 * all in the caller's transaction; returns the ids of the rows that were NOT
 * written (changed under us).
 */
export async function compareAndSwap(
  tx: Sql,
  stmts: TableStatements,
  plans: readonly RowPlan[],
  read: ReadonlyMap<string, RowValues>,
): Promise<string[]> {
  const changed = plans.filter((p) => p.changed);
  if (changed.length === 0) return [];
  const { write, guard } = stmts.sets;
  // Columns no row changes are only compared, not rewritten.
  const written = write.filter((c) => changed.some((p) => p.next[c] !== read.get(p.id)!.values[c]));
  const guarded = [...write.filter((c) => !written.includes(c)), ...guard];
  const text = stmts.casUpdate(written, guarded).text;
  const rowBytes = (p: RowPlan): number => {
    const before = read.get(p.id)!.values;
    let bytes = estimateValueBytes(p.id);
    for (const c of written) bytes += estimateValueBytes(before[c] ?? null) + estimateValueBytes(p.next[c] ?? null);
    for (const c of guarded) bytes += estimateValueBytes(before[c] ?? null);
    return bytes;
  };
  const lost: string[] = [];
  for (const chunk of chunkByBytes(changed, rowBytes, tx.limits)) {
    const params: SqlValue[] = [chunk.map((p) => p.id)];
    const column = (pick: (p: RowPlan) => StoredValue | null): SqlValue => chunk.map(pick) as SqlValue;
    for (const c of written)
      params.push(
        column((p) => read.get(p.id)!.values[c] ?? null),
        column((p) => p.next[c] ?? null),
      );
    for (const c of guarded) params.push(column((p) => read.get(p.id)!.values[c] ?? null));
    const { rows } = await tx.query<{ id: string }>(text, params);
    const ok = new Set(rows.map((r) => r.id));
    for (const p of chunk) if (!ok.has(p.id)) lost.push(p.id);
  }
  return lost;
}
