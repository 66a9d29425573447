import { qualifiedName, quoteIdent } from './identifiers';
import type { StoredValue } from '../ports';
import type { RowValues } from '../values/transforms';
import { columnSets, type ColumnSets, type Mode } from '../values/modes';
import type { RegistryTable } from '../config/registry';
import type { TableShape } from './table-shape';

/**
 * The SQL the engine runs against a registered (application) table. Every
 * identifier goes through quoteIdent; every value is a positional parameter.
 * Rows are addressed by keyset ranges over the id column, never by OFFSET.
 * Ids travel as text and are cast to the id column's type in SQL, so one code
 * path serves integer, uuid and text ids.
 */

/** Output aliases; the registry rejects column names starting with `__rekey`, so these never collide. */
export const ID_ALIAS = '__rekey_id';
export const TENANT_ALIAS = '__rekey_tenant';

/** A keyset range: ids in (lo, hi]. `null` lo: from the first row; `null` hi: to the last (and any row added later). */
export interface KeyRange {
  readonly lo: string | null;
  readonly hi: string | null;
}

export interface Statement {
  readonly text: string;
}

export class TableStatements {
  readonly sets: ColumnSets;
  private readonly t: string;
  private readonly id: string;
  private readonly idType: string;

  constructor(
    readonly table: RegistryTable,
    readonly shape: TableShape,
    readonly mode: Mode,
  ) {
    this.sets = columnSets(table, mode);
    this.t = qualifiedName(table);
    this.id = `t.${quoteIdent(table.idColumn)}`;
    this.idType = shape.idType;
  }

  /** id (as text), tenant (as text) and every column this mode reads. */
  private selectList(): string {
    const parts = [`${this.id}::text AS ${quoteIdent(ID_ALIAS)}`];
    if (this.table.tenantColumn)
      parts.push(`t.${quoteIdent(this.table.tenantColumn)}::text AS ${quoteIdent(TENANT_ALIAS)}`);
    for (const c of this.sets.read) parts.push(`t.${quoteIdent(c)}`);
    return parts.join(', ');
  }

  /**
   * SQL condition true for rows that may need work, when the table has a key
   * id column: the key id column differs from the target (parameter
   * `$targetParam`) on a row holding any value, or (encrypt mode) a plaintext
   * source is still waiting. Without a key id column, undefined: the rows are
   * read and classified in memory.
   */
  pendingCondition(targetParam: number): string | undefined {
    if (!this.table.keyIdColumn) return undefined;
    const anyValue = this.table.columns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' OR ');
    const parts = [
      `(t.${quoteIdent(this.table.keyIdColumn)} IS DISTINCT FROM $${targetParam}::text AND (${anyValue}))`,
    ];
    if (this.mode === 'encrypt') {
      for (const m of this.table.encrypt) {
        const src = `t.${quoteIdent(m.source)} IS NOT NULL`;
        parts.push(m.clearSource ? `(${src})` : `(${src} AND t.${quoteIdent(m.target)} IS NULL)`);
      }
    }
    return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
  }

  /**
   * The rows of one batch: `$1` lo and/or `$2` hi as present, then the target
   * key when the table has a key id column. Bounds absent from the range are
   * left out of the statement rather than tested for NULL, so the id index is
   * always usable.
   */
  selectRange(range: KeyRange): Statement & { readonly params: (target: string) => (string | number | null)[] } {
    return this.rangeQuery(range, undefined);
  }

  /**
   * One page of a batch, for transports with a response limit: the rows of
   * `range` after the id `cursor` (none: from the range's start), at most
   * `limit` of them, in id order.
   */
  selectRangePage(
    range: KeyRange,
    cursor: string | null,
    limit: number,
  ): Statement & { readonly params: (target: string) => (string | number | null)[] } {
    return this.rangeQuery(range, { cursor, limit });
  }

  private rangeQuery(
    range: KeyRange,
    page: { cursor: string | null; limit: number } | undefined,
  ): Statement & { readonly params: (target: string) => (string | number | null)[] } {
    const conds: string[] = [];
    const values: (string | number)[] = [];
    if (range.lo !== null) {
      values.push(range.lo);
      conds.push(`${this.id} > $${values.length}::${this.idType}`);
    }
    if (range.hi !== null) {
      values.push(range.hi);
      conds.push(`${this.id} <= $${values.length}::${this.idType}`);
    }
    if (page?.cursor != null) {
      values.push(page.cursor);
      conds.push(`${this.id} > $${values.length}::${this.idType}`);
    }
    let limit = '';
    if (page) {
      values.push(page.limit);
      limit = ` LIMIT $${values.length}::int`;
    }
    const pending = this.pendingCondition(values.length + 1);
    if (pending) conds.push(pending);
    const text =
      `SELECT ${this.selectList()} FROM ${this.t} AS t` +
      (conds.length ? ` WHERE ${conds.join(' AND ')}` : '') +
      ` ORDER BY ${this.id}` +
      limit;
    return { text, params: (target) => (pending ? [...values, target] : values) };
  }

  /** Re-reads rows by id (`$1` text[]) after a compare-and-swap lost to a concurrent write. */
  selectByIds(): Statement {
    return {
      text: `SELECT ${this.selectList()} FROM ${this.t} AS t WHERE ${this.id} = ANY($1::${this.idType}[]) ORDER BY ${this.id}`,
    };
  }

  /**
   * One page of a keyset walk (planner scan, verify): `$1` the page size,
   * `$2` the last id of the previous page when `after` is true.
   */
  selectPage(after: boolean, columns: readonly string[] = this.sets.read): Statement {
    const parts = [`${this.id}::text AS ${quoteIdent(ID_ALIAS)}`];
    if (this.table.tenantColumn)
      parts.push(`t.${quoteIdent(this.table.tenantColumn)}::text AS ${quoteIdent(TENANT_ALIAS)}`);
    for (const c of columns) parts.push(`t.${quoteIdent(c)}`);
    return {
      text:
        `SELECT ${parts.join(', ')} FROM ${this.t} AS t` +
        (after ? ` WHERE ${this.id} > $2::${this.idType}` : '') +
        ` ORDER BY ${this.id} LIMIT $1`,
    };
  }

  /**
   * `$1` target key (key id column tables only): per value of the key id
   * column, total rows and rows matching the pending condition. One scan.
   */
  countByKeyId(): Statement {
    const pending = this.pendingCondition(1);
    if (!pending || !this.table.keyIdColumn)
      throw new TypeError(`table ${this.table.name} has no key id column: count by scanning`);
    return {
      text:
        `SELECT t.${quoteIdent(this.table.keyIdColumn)} AS key_id, count(*)::text AS total,` +
        ` count(*) FILTER (WHERE ${pending})::text AS pending FROM ${this.t} AS t GROUP BY 1`,
    };
  }

  /**
   * countByKeyId over one slice of the table, for transports with a statement
   * timeout (the Data API's 45 s): `$1` target key, `$2` rows in the slice
   * [, `$3` the last id of the previous slice]. Every result row also carries
   * the slice's size and last id, so the caller knows where to go on.
   */
  countByKeyIdSlice(after: boolean): Statement {
    const pending = this.pendingCondition(1);
    if (!pending || !this.table.keyIdColumn)
      throw new TypeError(`table ${this.table.name} has no key id column: count by scanning`);
    return {
      text:
        `WITH slice AS (SELECT ${this.id} AS id, t.${quoteIdent(this.table.keyIdColumn)} AS key_id, ${pending} AS pending FROM ${this.t} AS t` +
        `${after ? ` WHERE ${this.id} > $3::${this.idType}` : ''} ORDER BY ${this.id} LIMIT $2)` +
        ` SELECT key_id, count(*)::text AS total, count(*) FILTER (WHERE pending)::text AS pending,` +
        ` (SELECT count(*) FROM slice)::text AS slice_rows, (SELECT s.id FROM slice AS s ORDER BY s.id DESC LIMIT 1)::text AS last_id` +
        ` FROM slice GROUP BY 1`,
    };
  }

  /**
   * Verify's counts for a key id column table, over one slice in id order:
   * `$1` target key, `$2` rows in the slice [, `$3` the last id of the
   * previous slice]. Per key id column value: rows, rows off the target (the
   * rewrap pending condition), non-NULL and NULL values of the encrypted
   * columns, and rows whose encrypt-mode plaintext source still waits — with
   * the slice's size and last id on every row, as countByKeyIdSlice.
   */
  verifyCountsSlice(after: boolean): Statement {
    const keyId = this.table.keyIdColumn;
    if (!keyId) throw new TypeError(`table ${this.table.name} has no key id column: verify by scanning`);
    const anyValue = this.table.columns.map((c) => `t.${quoteIdent(c)} IS NOT NULL`).join(' OR ');
    const offTarget = `(t.${quoteIdent(keyId)} IS DISTINCT FROM $1::text AND (${anyValue}))`;
    const values = this.table.columns.map((c) => `(t.${quoteIdent(c)} IS NOT NULL)::int`).join(' + ');
    const nulls = this.table.columns.map((c) => `(t.${quoteIdent(c)} IS NULL)::int`).join(' + ');
    const waiting = this.table.encrypt.length
      ? this.table.encrypt
          .map(
            (m) =>
              `(t.${quoteIdent(m.source)} IS NOT NULL${m.clearSource ? '' : ` AND t.${quoteIdent(m.target)} IS NULL`})`,
          )
          .join(' OR ')
      : 'false';
    return {
      text:
        `WITH slice AS (SELECT ${this.id} AS id, t.${quoteIdent(keyId)}::text AS key_id, ${offTarget} AS off_target,` +
        ` ${values} AS vals, ${nulls} AS nulls, (${waiting}) AS waiting FROM ${this.t} AS t` +
        `${after ? ` WHERE ${this.id} > $3::${this.idType}` : ''} ORDER BY ${this.id} LIMIT $2)` +
        ` SELECT key_id, count(*)::text AS rows, count(*) FILTER (WHERE off_target)::text AS off_target,` +
        ` sum(vals)::text AS vals, sum(nulls)::text AS nulls, count(*) FILTER (WHERE waiting)::text AS waiting,` +
        ` (SELECT count(*) FROM slice)::text AS slice_rows, (SELECT s.id FROM slice AS s ORDER BY s.id DESC LIMIT 1)::text AS last_id` +
        ` FROM slice GROUP BY 1`,
    };
  }

  /**
   * `$1` target key, `$2` batch size, `$3` page size[, `$4` the last
   * boundary of the previous page]: the id of every batch-size-th pending
   * row, in id order — the upper bounds of the keyset batches — a page at a
   * time. Counting restarts after the previous page's last boundary, which
   * ends a batch, so the pages together give the boundaries one pass would.
   *
   * The outer query orders by the raw id column, the order the window
   * already produces from the index scan, so PostgreSQL needs no Sort and
   * LIMIT stops the scan after `$2 × $3` pending rows. (Ordering by the
   * window's row number instead, or by the id cast to text, makes it sort
   * the whole window output: every page would read every remaining row and
   * planning would be quadratic. test/integration/reencrypt/planning-scans
   * checks the plan with EXPLAIN ANALYZE.)
   */
  batchBoundaries(after: boolean): Statement {
    const pending = this.pendingCondition(1);
    if (!pending) throw new TypeError(`table ${this.table.name} has no key id column: cut batches by scanning`);
    return {
      text:
        `SELECT s.id::text AS id FROM (SELECT ${this.id} AS id, row_number() OVER (ORDER BY ${this.id}) AS rn` +
        ` FROM ${this.t} AS t WHERE ${pending}${after ? ` AND ${this.id} > $4::${this.idType}` : ''}) AS s` +
        ` WHERE s.rn % $2 = 0 ORDER BY s.id LIMIT $3`,
    };
  }

  /**
   * The compare-and-swap write of a batch, one statement: `$1` ids (text[]),
   * then for each column of `written` its old and new values, then for each
   * of `guarded` its old value. A row is updated only if every one of those
   * columns still holds what was read; RETURNING names the rows written, the
   * others changed under us.
   */
  casUpdate(written: readonly string[], guarded: readonly string[]): Statement {
    const arrays: string[] = ['$1::text[]'];
    const aliases: string[] = ['id'];
    const sets: string[] = [];
    const conds: string[] = [`${this.id} = v.id::${this.idType}`];
    let n = 1;
    const elementType = (c: string): string => (this.shape.forms[c] === 'binary' ? 'bytea' : 'text');
    written.forEach((c, i) => {
      arrays.push(`$${++n}::${elementType(c)}[]`, `$${++n}::${elementType(c)}[]`);
      aliases.push(`o${i}`, `n${i}`);
      sets.push(`${quoteIdent(c)} = v.n${i}`);
      conds.push(`t.${quoteIdent(c)} IS NOT DISTINCT FROM v.o${i}`);
    });
    guarded.forEach((c, i) => {
      arrays.push(`$${++n}::${elementType(c)}[]`);
      aliases.push(`g${i}`);
      conds.push(`t.${quoteIdent(c)} IS NOT DISTINCT FROM v.g${i}`);
    });
    if (sets.length === 0) throw new TypeError('a compare-and-swap update must write at least one column');
    return {
      text:
        `UPDATE ${this.t} AS t SET ${sets.join(', ')}` +
        ` FROM unnest(${arrays.join(', ')}) AS v(${aliases.join(', ')})` +
        ` WHERE ${conds.join(' AND ')} RETURNING ${this.id}::text AS id`,
    };
  }
}

/** A result row of the statements above as the engine's RowValues. */
export function toRowValues(row: Record<string, unknown>, columns: readonly string[]): RowValues {
  const values: Record<string, StoredValue | null> = {};
  for (const c of columns) values[c] = (row[c] as StoredValue | null | undefined) ?? null;
  return { id: String(row[ID_ALIAS]), tenant: (row[TENANT_ALIAS] as string | null | undefined) ?? null, values };
}
