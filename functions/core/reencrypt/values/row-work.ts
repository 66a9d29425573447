import type { EncryptionContext } from '../../crypto/context';
import { fernetTimestamp } from '../../crypto/legacy/fernet';
import { isRetryable } from '../../errors';
import { NoBlindIndexerError } from '../errors';
import type { LegacyKind, StoredValue } from '../ports';
import type { StorageForm } from '../sql/table-shape';
import { encryptAs, inForm, legacyWriter } from './format-writers';
import type { ValueFormat } from './formats';
import { describeError } from './row-error-codes';
import type { ColumnError, RowValues, TransformContext } from './transforms';

/**
 * One row on its way through transformRow (transforms.ts): the row as read,
 * the values it will be written with, and the errors recorded so far; and the
 * writes that move one value, each zeroing the plaintext it needed.
 */
export interface RowWork {
  readonly row: RowValues;
  readonly ctx: TransformContext;
  /** The format the table's values end in (formats.ts targetFormat). */
  readonly format: ValueFormat;
  readonly next: Record<string, StoredValue | null>;
  readonly errors: ColumnError[];
}

export function contextOf(work: RowWork, column: string): EncryptionContext {
  return { table: work.ctx.table.name, column, rowId: work.row.id, tenant: work.row.tenant };
}

export function asBuffer(value: StoredValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

function formOf(work: RowWork, column: string): StorageForm {
  return work.ctx.shape.forms[column] ?? 'text';
}

/**
 * Runs the work of one column: a retryable error (throttling, outage) is
 * thrown so the whole batch is retried; any other is recorded against the
 * column and the row's other columns go on.
 */
export async function recordingErrors(work: RowWork, column: string, move: () => Promise<void>): Promise<void> {
  try {
    await move();
  } catch (err) {
    if (isRetryable(err)) throw err;
    work.errors.push({ column, ...describeError(err) });
  }
}

/** Envelope of `plaintext` into `column`, and its blind index when this mode writes one. Zeroes the plaintext. */
export async function encryptInto(work: RowWork, column: string, plaintext: Buffer): Promise<void> {
  const { ctx, next } = work;
  try {
    const hashColumn = ctx.sets.blindIndex[column];
    if (hashColumn !== undefined) {
      // Thrown, not recorded here: the caller must not go on (e.g. clear a plaintext source) without the index.
      if (!ctx.blindIndex)
        throw new NoBlindIndexerError(
          `${ctx.table.name}.${hashColumn} is a blind index column but no blind index key was given`,
        );
      next[hashColumn] = await ctx.blindIndex.index(
        plaintext,
        { table: ctx.table.name, column },
        formOf(work, hashColumn),
      );
    }
    next[column] = await encryptAs(
      ctx.crypto,
      work.format,
      plaintext,
      contextOf(work, column),
      ctx.targetKeyId,
      formOf(work, column),
    );
  } finally {
    plaintext.fill(0);
  }
}

/**
 * In-place rotation of a Fernet / JSON key_id value to the target key in the
 * same format (MultiFernet.rotate: the token's timestamp kept), its blind
 * index recomputed on the way when stale. Zeroes the plaintext.
 */
export async function rotateLegacy(work: RowWork, column: string, value: StoredValue, kind: LegacyKind): Promise<void> {
  const { ctx, next, row } = work;
  const plaintext = await ctx.crypto.decryptLegacy(value, kind);
  try {
    const hashColumn = ctx.sets.blindIndex[column];
    const stored = hashColumn === undefined ? null : (row.values[hashColumn] ?? null);
    if (hashColumn !== undefined && ctx.blindIndex && (stored === null || !ctx.blindIndex.isCurrent?.(stored))) {
      next[hashColumn] = await ctx.blindIndex.index(
        plaintext,
        { table: ctx.table.name, column },
        formOf(work, hashColumn),
      );
    }
    const timestamp = kind === 'fernet' ? fernetTimestamp(value) : undefined;
    next[column] = inForm(
      await legacyWriter(ctx.crypto)(plaintext, kind, ctx.targetKeyId, { timestamp }),
      formOf(work, column),
    );
  } finally {
    plaintext.fill(0);
  }
}

/**
 * While a value moves to the target key, its blind index is recomputed when
 * missing or made with an older blind index key (rotation recomputes it).
 * Needs the plaintext: one decryption, for such rows only.
 */
export async function refreshBlindIndex(
  work: RowWork,
  column: string,
  value: StoredValue,
  context: EncryptionContext,
): Promise<void> {
  const { ctx, next, row } = work;
  const hashColumn = ctx.sets.blindIndex[column];
  const indexer = ctx.blindIndex;
  if (hashColumn === undefined || !indexer?.isCurrent) return;
  const stored = row.values[hashColumn] ?? null;
  if (stored !== null && indexer.isCurrent(stored)) return;
  const plaintext = await ctx.crypto.decrypt(value, context);
  try {
    next[hashColumn] = await indexer.index(plaintext, { table: ctx.table.name, column }, formOf(work, hashColumn));
  } finally {
    plaintext.fill(0);
  }
}
