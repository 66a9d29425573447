import { inScope } from '../batches/row-scope';
import type { RowScope } from '../batches/row-scope';
import { isRetryable } from '../../errors';
import type { ColumnSets, Mode } from './modes';
import type { BlindIndexer, StoredValue, ValueClass, ValueCrypto } from '../ports';
import type { RegistryTable } from '../config/registry';
import type { TableShape } from '../sql/table-shape';
import { targetFormat, valueDoneIn, type ValueFormat } from './formats';
import { foreignFormat } from './format-writers';
import { keepValuesTooLong } from '../sql/column-limits';
import { describeError, ROW_ERROR } from './row-error-codes';
import {
  asBuffer,
  contextOf,
  encryptInto,
  recordingErrors,
  refreshBlindIndex,
  rotateLegacy,
  type RowWork,
} from './row-work';

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

/**
 * What one row should become. Retryable errors (keyring throttling, outage)
 * are thrown so the whole batch is retried; every other failure is recorded
 * against its column and the row's other columns go on.
 */
export async function transformRow(row: RowValues, ctx: TransformContext): Promise<RowPlan> {
  const next: Record<string, StoredValue | null> = {};
  for (const c of ctx.sets.write) next[c] = row.values[c] ?? null;
  if (ctx.scope && !inScope(row.tenant, ctx.scope))
    return { id: row.id, outcome: 'skipped', next, changed: false, errors: [] };
  const work: RowWork = { row, ctx, next, errors: [], format: targetFormat(ctx.table, ctx.mode) };
  const handled = ctx.mode === 'encrypt' ? await moveEncryptSources(work) : NOTHING_HANDLED;
  await moveColumns(work, handled);
  keepValuesTooLong(ctx, row, next, work.errors);
  followKeyIdColumn(work);
  return finishedPlan(work);
}

const NOTHING_HANDLED: ReadonlySet<string> = new Set();

/**
 * Encrypt mode, source → target mappings: the plaintext source is
 * authoritative while it is not NULL. Returns the targets it took care of
 * (the column loop leaves them alone).
 */
async function moveEncryptSources(work: RowWork): Promise<ReadonlySet<string>> {
  const handled = new Set<string>();
  for (const m of work.ctx.table.encrypt) {
    const source = work.row.values[m.source] ?? null;
    if (source === null) continue;
    const current = work.row.values[m.target] ?? null;
    if (current !== null && !m.clearSource) continue; // migrated already; the column loop keeps it on the target key
    handled.add(m.target);
    await recordingErrors(work, m.target, async () => moveSource(work, m, source, current));
  }
  return handled;
}

async function moveSource(
  work: RowWork,
  m: RegistryTable['encrypt'][number],
  source: StoredValue,
  current: StoredValue | null,
): Promise<void> {
  const { crypto, targetKeyId: target } = work.ctx;
  if (current !== null) {
    // Clear the source only if the target holds the same plaintext; else the source is newer: re-encrypt it.
    const inTarget = await crypto.decrypt(current, contextOf(work, m.target));
    const same = inTarget.equals(asBuffer(source));
    inTarget.fill(0);
    if (same) {
      const cls = crypto.classify(current);
      if (!valueDone(cls, target))
        work.next[m.target] = await crypto.rewrap(current, contextOf(work, m.target), target);
      work.next[m.source] = null;
      return;
    }
  }
  await encryptInto(work, m.target, asBuffer(source));
  if (m.clearSource) work.next[m.source] = null;
}

/** Every encrypted column not handled above, brought to the target key by what it holds. */
async function moveColumns(work: RowWork, handled: ReadonlySet<string>): Promise<void> {
  const { row, ctx, next, errors, format } = work;
  const { table, mode, crypto, targetKeyId: target } = ctx;
  for (const column of table.columns) {
    if (handled.has(column)) continue;
    const value = row.values[column] ?? null;
    if (value === null) continue;
    const cls = crypto.classify(value);
    switch (cls.kind) {
      case 'null':
        break;
      case 'envelope': {
        if (format !== 'rk1') {
          errors.push(foreignFormat(table, column, 'an rk1 envelope', format));
          break;
        }
        if (cls.keyId === target) break;
        // The hot path of every rotation: no closure, no extra allocation.
        const context = contextOf(work, column);
        try {
          next[column] =
            mode === 'reencrypt'
              ? await crypto.reencrypt(value, context, target)
              : await crypto.rewrap(value, context, target);
          await refreshBlindIndex(work, column, value, context);
        } catch (err) {
          if (isRetryable(err)) throw err;
          errors.push({ column, ...describeError(err) });
        }
        break;
      }
      case 'fernet':
      case 'json-key-id':
        await moveLegacyValue(work, column, value, cls);
        break;
      case 'plaintext':
        await movePlaintext(work, column, value);
        break;
    }
  }
}

/** A Fernet / JSON key_id value: rotated in place in a table of that format, moved to rk1 by the migrate mode. */
async function moveLegacyValue(
  work: RowWork,
  column: string,
  value: StoredValue,
  cls: Extract<ValueClass, { kind: 'fernet' | 'json-key-id' }>,
): Promise<void> {
  const { table, mode, crypto, targetKeyId: target } = work.ctx;
  if (work.format === cls.kind) {
    // The table's own format: rotated in place to the target key, in that format.
    if (cls.keyId === target) return;
    await recordingErrors(work, column, async () => rotateLegacy(work, column, value, cls.kind));
    return;
  }
  if (work.format !== 'rk1') {
    work.errors.push(foreignFormat(table, column, `a ${cls.kind} value`, work.format));
    return;
  }
  if (mode !== 'migrate') {
    work.errors.push({
      column,
      code: ROW_ERROR.legacyValue,
      message: `${table.name}.${column} holds a legacy ${cls.kind} value; run the migrate mode`,
    });
    return;
  }
  await recordingErrors(work, column, async () =>
    encryptInto(work, column, await crypto.decryptLegacy(value, cls.kind)),
  );
}

/** A value that is no envelope: encrypted by the encrypt mode, an error in every other. */
async function movePlaintext(work: RowWork, column: string, value: StoredValue): Promise<void> {
  if (work.ctx.mode !== 'encrypt') {
    work.errors.push({
      column,
      code: ROW_ERROR.unexpectedPlaintext,
      message: `${work.ctx.table.name}.${column} holds a value that is not an envelope; run the encrypt mode if it is plaintext`,
    });
    return;
  }
  await recordingErrors(work, column, async () => encryptInto(work, column, asBuffer(value)));
}

/** The key id column follows the row: the target once every column is on it. */
function followKeyIdColumn({ ctx, next, errors }: RowWork): void {
  const { table } = ctx;
  if (table.keyIdColumn && errors.length === 0) {
    const anyValue = table.columns.some((c) => next[c] !== null);
    if (anyValue) next[table.keyIdColumn] = ctx.targetKeyId;
  }
}

function finishedPlan({ row, ctx, next, errors }: RowWork): RowPlan {
  const changed = ctx.sets.write.some((c) => !sameValue(next[c] ?? null, row.values[c] ?? null));
  const outcome: RowOutcome = errors.length > 0 ? 'failed' : changed ? 'changed' : 'skipped';
  return { id: row.id, outcome, next, changed, errors };
}

export function sameValue(a: StoredValue | null, b: StoredValue | null): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.equals(b);
}
