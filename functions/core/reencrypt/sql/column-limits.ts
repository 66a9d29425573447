import type { StoredValue } from '../ports';
import { ROW_ERROR, type ColumnError, type RowValues, type TransformContext } from '../values/transforms';

/**
 * A value that does not fit its varchar(n) would fail the whole batch's
 * statement: the column (with its blind index, and in encrypt mode its
 * plaintext source, which must not be cleared) keeps what it held, and the
 * row is a recorded error saying which column to widen.
 */
export function keepValuesTooLong(
  ctx: Pick<TransformContext, 'table' | 'shape' | 'sets'>,
  row: RowValues,
  next: Record<string, StoredValue | null>,
  errors: ColumnError[],
): void {
  const { table } = ctx;
  const maxChars = ctx.shape.maxChars;
  if (maxChars) {
    for (const column of table.columns) {
      const hashColumn = ctx.sets.blindIndex[column];
      const tooLong = [column, ...(hashColumn ? [hashColumn] : [])].find((c) => {
        const v = next[c];
        const max = maxChars[c];
        return max !== undefined && typeof v === 'string' && v !== row.values[c] && v.length > max;
      });
      if (tooLong === undefined) continue;
      errors.push({
        column,
        code: ROW_ERROR.tooLong,
        message: `${table.name}.${tooLong} is varchar(${maxChars[tooLong]}); the new value needs ${(next[tooLong] as string).length} characters: widen the column (text or bytea)`,
      });
      for (const c of [column, hashColumn, ...table.encrypt.filter((m) => m.target === column).map((m) => m.source)]) {
        if (c !== undefined && c in next) next[c] = row.values[c] ?? null;
      }
    }
  }
}
