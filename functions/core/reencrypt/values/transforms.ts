import { inScope, type RowScope } from '../batches/row-scope';
import type { EncryptionContext } from '../../crypto/context';
import { RekeyError, isRetryable } from '../../errors';
import { NoBlindIndexerError } from '../errors';
import { fernetTimestamp } from '../../crypto/legacy/fernet';
import type { ColumnSets, Mode } from './modes';
import type { BlindIndexer, StoredValue, ValueClass, ValueCrypto } from '../ports';
import type { RegistryTable } from '../config/registry';
import type { StorageForm, TableShape } from '../sql/table-shape';
import { FOREIGN_FORMAT, targetFormat, valueDoneIn, type ValueFormat } from './formats';
import { encryptAs, foreignFormat, inForm, legacyWriter } from './format-writers';
import { keepValuesTooLong } from '../sql/column-limits';

/**
 * The in-memory part of a batch: what each row should become. Pure apart from
 * the crypto calls; the executor reads rows before and writes them after.
 */

/** A row as read: id and tenant as text, and every column the mode reads. */
export interface RowValues {
  readonly id: string;
  readonly tenant: string | null;
  readonly values: Readonly<Record<string, StoredValue | null>>;
}

/** Why one column of one row could not be brought to the target key. Never carries the value. */
export interface ColumnError {
  readonly column: string;
  readonly code: string;
  readonly message: string;
}

export type RowOutcome =
  /** Already in the target state: nothing to write. */
  | 'skipped'
  /** Every column now in the target state; `next` holds the new values. */
  | 'changed'
  /** At least one column failed (recorded); other columns may still have changed. */
  | 'failed';

export interface RowPlan {
  readonly id: string;
  readonly outcome: RowOutcome;
  /** New values of the write columns (unchanged ones carried over); only meaningful when `changed` is true. */
  readonly next: Readonly<Record<string, StoredValue | null>>;
  /** True when `next` differs from the values read in any column. */
  readonly changed: boolean;
  readonly errors: readonly ColumnError[];
}

export interface TransformContext {
  readonly table: RegistryTable;
  readonly shape: TableShape;
  readonly sets: ColumnSets;
  readonly mode: Mode;
  /** The key this table's values end under (formats.ts targetKeyFor: a KEK, or a Fernet key id for a Fernet table). */
  readonly targetKeyId: string;
  readonly crypto: ValueCrypto;
  readonly blindIndex?: BlindIndexer | undefined;
  /** The rows the job may touch, by tenant (row-scope.ts). @default every row */
  readonly scope?: RowScope | undefined;
}

/** Error codes of per-row problems found by the engine itself (crypto errors keep their own codes). */
export const ROW_ERROR = {
  /** A Fernet / JSON key_id value outside migrate mode. */
  legacyValue: 'LEGACY_VALUE',
  /** A plaintext value where an envelope was expected (outside encrypt mode). */
  unexpectedPlaintext: 'UNEXPECTED_PLAINTEXT',
  /** A value in another format than the table's (an rk1 envelope in a Fernet table, ...), outside migrate mode. */
  foreignFormat: FOREIGN_FORMAT,
  /** An error that is not a RekeyError (its message is not trusted to be free of data). */
  unexpected: 'UNEXPECTED_ERROR',
  /** The new value does not fit the column's varchar(n). */
  tooLong: 'VALUE_TOO_LONG',
} as const;

/** True when the value is NULL or, in the table's format (rk1 by default), under the target key. */
export function valueDone(cls: ValueClass, targetKeyId: string, format: ValueFormat = 'rk1'): boolean {
  return valueDoneIn(cls, targetKeyId, format);
}

/**
 * Whether a row still needs work in this mode: a column not NULL and not an
 * envelope under the target key, or (encrypt mode) a plaintext source still
 * waiting to move. The planner counts with it and the executor skips by it.
 */
export function rowNeedsWork(
  row: RowValues,
  ctx: Pick<TransformContext, 'table' | 'mode' | 'targetKeyId' | 'scope'> & {
    readonly crypto: Pick<ValueCrypto, 'classify'>;
  },
): boolean {
  if (ctx.scope && !inScope(row.tenant, ctx.scope)) return false; // another tenant's row: not this job's
  if (ctx.mode === 'encrypt') {
    for (const m of ctx.table.encrypt) {
      if (row.values[m.source] != null && (m.clearSource || row.values[m.target] == null)) return true;
    }
  }
  const format = targetFormat(ctx.table, ctx.mode);
  return ctx.table.columns.some((c) => !valueDone(ctx.crypto.classify(row.values[c] ?? null), ctx.targetKeyId, format));
}

function contextOf(table: RegistryTable, column: string, row: RowValues): EncryptionContext {
  return { table: table.name, column, rowId: row.id, tenant: row.tenant };
}

function asBuffer(value: StoredValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/** A message safe to store: a RekeyError's own (they never carry data), else only the error's class. */
function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof RekeyError) return { code: err.code, message: err.message };
  const name = err instanceof Error ? err.name : typeof err;
  return { code: ROW_ERROR.unexpected, message: `unexpected ${name} (message withheld: it may quote data)` };
}

export { mapLimit } from '../batches/map-limit';

/**
 * What one row should become. Retryable errors (keyring throttling, outage)
 * are thrown so the whole batch is retried; every other failure is recorded
 * against its column and the row's other columns go on.
 */
export async function transformRow(row: RowValues, ctx: TransformContext): Promise<RowPlan> {
  const { table, mode, targetKeyId: target, crypto } = ctx;
  const next: Record<string, StoredValue | null> = {};
  for (const c of ctx.sets.write) next[c] = row.values[c] ?? null;
  if (ctx.scope && !inScope(row.tenant, ctx.scope))
    return { id: row.id, outcome: 'skipped', next, changed: false, errors: [] };
  const errors: ColumnError[] = [];
  const handled = new Set<string>();
  const form = (c: string): StorageForm => ctx.shape.forms[c] ?? 'text';
  const format = targetFormat(table, mode);

  const guarded = async (column: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (err) {
      if (isRetryable(err)) throw err;
      errors.push({ column, ...describeError(err) });
    }
  };

  /** Envelope of `plaintext` into `column`, and its blind index when this mode writes one. Zeroes the plaintext. */
  const encryptInto = async (column: string, plaintext: Buffer): Promise<void> => {
    try {
      const hashColumn = ctx.sets.blindIndex[column];
      if (hashColumn !== undefined) {
        // Thrown, not recorded here: the caller must not go on (e.g. clear a plaintext source) without the index.
        if (!ctx.blindIndex)
          throw new NoBlindIndexerError(
            `${table.name}.${hashColumn} is a blind index column but no blind index key was given`,
          );
        next[hashColumn] = await ctx.blindIndex.index(plaintext, { table: table.name, column }, form(hashColumn));
      }
      next[column] = await encryptAs(crypto, format, plaintext, contextOf(table, column, row), target, form(column));
    } finally {
      plaintext.fill(0);
    }
  };

  /**
   * In-place rotation of a Fernet / JSON key_id value to the target key in the
   * same format (MultiFernet.rotate: the token's timestamp kept), its blind
   * index recomputed on the way when stale. Zeroes the plaintext.
   */
  const rotateLegacy = async (column: string, value: StoredValue, kind: 'fernet' | 'json-key-id'): Promise<void> => {
    const plaintext = await crypto.decryptLegacy(value, kind);
    try {
      const hashColumn = ctx.sets.blindIndex[column];
      const stored = hashColumn === undefined ? null : (row.values[hashColumn] ?? null);
      if (hashColumn !== undefined && ctx.blindIndex && (stored === null || !ctx.blindIndex.isCurrent?.(stored))) {
        next[hashColumn] = await ctx.blindIndex.index(plaintext, { table: table.name, column }, form(hashColumn));
      }
      const timestamp = kind === 'fernet' ? fernetTimestamp(value) : undefined;
      next[column] = inForm(await legacyWriter(crypto)(plaintext, kind, target, { timestamp }), form(column));
    } finally {
      plaintext.fill(0);
    }
  };

  /**
   * While a value moves to the target key, its blind index is recomputed when
   * missing or made with an older blind index key (rotation recomputes it).
   * Needs the plaintext: one decryption, for such rows only.
   */
  const refreshBlindIndex = async (column: string, value: StoredValue, context: EncryptionContext): Promise<void> => {
    const hashColumn = ctx.sets.blindIndex[column];
    const indexer = ctx.blindIndex;
    if (hashColumn === undefined || !indexer?.isCurrent) return;
    const stored = row.values[hashColumn] ?? null;
    if (stored !== null && indexer.isCurrent(stored)) return;
    const plaintext = await crypto.decrypt(value, context);
    try {
      next[hashColumn] = await indexer.index(plaintext, { table: table.name, column }, form(hashColumn));
    } finally {
      plaintext.fill(0);
    }
  };

  // encrypt mode, source → target mappings: the plaintext source is authoritative while it is not NULL.
  if (mode === 'encrypt') {
    for (const m of table.encrypt) {
      const source = row.values[m.source] ?? null;
      if (source === null) continue;
      const current = row.values[m.target] ?? null;
      if (current !== null && !m.clearSource) continue; // migrated already; the column loop keeps it on the target key
      handled.add(m.target);
      await guarded(m.target, async () => {
        if (current !== null) {
          // Clear the source only if the target holds the same plaintext; else the source is newer: re-encrypt it.
          const inTarget = await crypto.decrypt(current, contextOf(table, m.target, row));
          const same = inTarget.equals(asBuffer(source));
          inTarget.fill(0);
          if (same) {
            const cls = crypto.classify(current);
            if (!valueDone(cls, target))
              next[m.target] = await crypto.rewrap(current, contextOf(table, m.target, row), target);
            next[m.source] = null;
            return;
          }
        }
        await encryptInto(m.target, asBuffer(source));
        if (m.clearSource) next[m.source] = null;
      });
    }
  }

  for (const column of table.columns) {
    if (handled.has(column)) continue;
    const value = row.values[column] ?? null;
    if (value === null) continue;
    const cls = crypto.classify(value);
    const context = contextOf(table, column, row);
    switch (cls.kind) {
      case 'null':
        break;
      case 'envelope':
        if (format !== 'rk1') {
          errors.push(foreignFormat(table, column, 'an rk1 envelope', format));
          break;
        }
        if (cls.keyId === target) break;
        // The hot path of every rotation: no closure, no extra allocation.
        try {
          next[column] =
            mode === 'reencrypt'
              ? await crypto.reencrypt(value, context, target)
              : await crypto.rewrap(value, context, target);
          await refreshBlindIndex(column, value, context);
        } catch (err) {
          if (isRetryable(err)) throw err;
          errors.push({ column, ...describeError(err) });
        }
        break;
      case 'fernet':
      case 'json-key-id':
        if (format === cls.kind) {
          // The table's own format: rotated in place to the target key, in that format.
          if (cls.keyId === target) break;
          await guarded(column, async () => rotateLegacy(column, value, cls.kind));
          break;
        }
        if (format !== 'rk1') {
          errors.push(foreignFormat(table, column, `a ${cls.kind} value`, format));
          break;
        }
        if (mode !== 'migrate') {
          errors.push({
            column,
            code: ROW_ERROR.legacyValue,
            message: `${table.name}.${column} holds a legacy ${cls.kind} value; run the migrate mode`,
          });
          break;
        }
        await guarded(column, async () => encryptInto(column, await crypto.decryptLegacy(value, cls.kind)));
        break;
      case 'plaintext':
        if (mode !== 'encrypt') {
          errors.push({
            column,
            code: ROW_ERROR.unexpectedPlaintext,
            message: `${table.name}.${column} holds a value that is not an envelope; run the encrypt mode if it is plaintext`,
          });
          break;
        }
        await guarded(column, async () => encryptInto(column, asBuffer(value)));
        break;
    }
  }

  keepValuesTooLong(ctx, row, next, errors);

  // The key id column follows the row: the target once every column is on it.
  if (table.keyIdColumn && errors.length === 0) {
    const anyValue = table.columns.some((c) => next[c] !== null);
    if (anyValue) next[table.keyIdColumn] = target;
  }

  const changed = ctx.sets.write.some((c) => !sameValue(next[c] ?? null, row.values[c] ?? null));
  const outcome: RowOutcome = errors.length > 0 ? 'failed' : changed ? 'changed' : 'skipped';
  return { id: row.id, outcome, next, changed, errors };
}

export function sameValue(a: StoredValue | null, b: StoredValue | null): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.equals(b);
}
