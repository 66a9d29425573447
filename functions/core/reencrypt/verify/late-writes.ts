import type { Sql } from '../../ports/sql';
import { qualifiedName, quoteIdent } from '../sql/identifiers';
import type { ValueCrypto } from '../ports';
import type { Registry } from '../config/registry';

/**
 * Late writers: an application still on the old primary key can write a row
 * under it after Verify counted zero values there and before Finalize retires
 * the key. Finalize retires on the counts Verify kept (no second pass over
 * every table), so it first looks at the rows written since Verify began —
 * those whose xmin is newer than the oldest transaction running then — and
 * adds their values to the counts: a key such a row needs stays rotating, and
 * the next rotation moves the row. The look is one scan per table in the
 * database, returning only the changed rows. The gap left between this check
 * and the retire itself is covered by the catalog: a retired key still
 * decrypts, and `rekey keys destroy` counts every table again.
 */

/** More changed rows than this in one table: the caller counts everything again instead. */
export const MAX_LATE_ROWS = 10_000;

/** The oldest transaction still running now, as a 32-bit xid (text): rows with a newer xmin were written after this call. */
export async function currentSinceXid(sql: Sql): Promise<string> {
  const { rows } = await sql.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
  return String(BigInt(rows[0]!.xmin) % 2n ** 32n);
}

/**
 * Values per key id among rows written since `sinceXid`, over `registry`'s
 * tables; undefined when a table holds more than MAX_LATE_ROWS of them.
 */
export async function valuesWrittenSince(
  deps: { readonly sql: Sql; readonly crypto: Pick<ValueCrypto, 'classify'> },
  registry: Registry,
  sinceXid: string,
): Promise<Record<string, number> | undefined> {
  const keys: Record<string, number> = {};
  for (const table of registry.tables) {
    const columns = table.columns.map(quoteIdent).join(', ');
    // age() counts back from the current transaction: a smaller age is a newer xmin (frozen rows are the oldest).
    const { rows } = await deps.sql.query<Record<string, string | Buffer | null>>(
      `SELECT ${columns} FROM ${qualifiedName(table)} WHERE age(xmin) < age($1::text::xid) LIMIT ${MAX_LATE_ROWS + 1}`,
      [sinceXid],
    );
    if (rows.length > MAX_LATE_ROWS) return undefined;
    for (const row of rows) {
      for (const column of table.columns) {
        const cls = deps.crypto.classify(row[column] ?? null);
        if ((cls.kind === 'envelope' || cls.kind === 'json-key-id') && cls.keyId)
          keys[cls.keyId] = (keys[cls.keyId] ?? 0) + 1;
      }
    }
  }
  return keys;
}
