import type { EncryptionContext } from './context';
import { InvalidContextError } from './errors';
import { hasLoneSurrogate } from './unicode';

/** Each context field is length-prefixed with a u16, so it may hold at most this many UTF-8 bytes. */
export const MAX_CONTEXT_FIELD_BYTES = 0xffff;

type ContextField = 'table' | 'column' | 'rowId' | 'tenant';
// Lone surrogates are refused: UTF-8 cannot encode them faithfully (two
// different lone surrogates would both become U+FFFD and collide).

/**
 * The canonical bytes of an encryption context, the part of the
 * authenticated data that pins a value to its place:
 *
 *   u16 len | table | u16 len | column | u16 len | rowId | u8 tenantFlag [ | u16 len | tenant ]
 *
 * Lengths are big-endian byte counts of the UTF-8 text, so ("a","bc") and
 * ("ab","c") encode differently; tenantFlag is 0 when there is no tenant
 * (null or undefined) and 1 when there is one, so "no tenant" can never equal
 * any tenant name. Throws InvalidContextError naming the field at fault.
 */
export function encodeContext(ctx: EncryptionContext): Buffer {
  if (ctx === null || typeof ctx !== 'object') {
    throw new InvalidContextError(
      'context',
      `encryption context must be an object with table, column and rowId, got ${describe(ctx)}`,
    );
  }
  const table = fieldBytes(ctx, 'table');
  const column = fieldBytes(ctx, 'column');
  const rowId = fieldBytes(ctx, 'rowId');
  const tenant = ctx.tenant === null || ctx.tenant === undefined ? undefined : fieldBytes(ctx, 'tenant');

  const size = 6 + table + column + rowId + 1 + (tenant === undefined ? 0 : 2 + tenant);
  const out = Buffer.allocUnsafe(size);
  let at = writeField(out, 0, ctx.table, table);
  at = writeField(out, at, ctx.column, column);
  at = writeField(out, at, ctx.rowId, rowId);
  if (tenant === undefined) {
    out[at] = 0;
  } else {
    out[at] = 1;
    writeField(out, at + 1, ctx.tenant as string, tenant);
  }
  return out;
}

/** Validates one field and returns its UTF-8 byte length. */
function fieldBytes(ctx: EncryptionContext, field: ContextField): number {
  const value: unknown = ctx[field];
  const what = field === 'tenant' ? 'a non-empty string, null or undefined' : 'a non-empty string';
  if (typeof value !== 'string') {
    throw new InvalidContextError(field, `encryption context field "${field}" must be ${what}, got ${describe(value)}`);
  }
  if (value.length === 0) {
    throw new InvalidContextError(field, `encryption context field "${field}" must be ${what}, got an empty string`);
  }
  if (hasLoneSurrogate(value)) {
    throw new InvalidContextError(
      field,
      `encryption context field "${field}" is not well-formed Unicode (lone surrogate)`,
    );
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_CONTEXT_FIELD_BYTES) {
    throw new InvalidContextError(
      field,
      `encryption context field "${field}" is ${bytes} bytes of UTF-8; the limit is ${MAX_CONTEXT_FIELD_BYTES}`,
    );
  }
  return bytes;
}

function writeField(out: Buffer, at: number, value: string, bytes: number): number {
  out.writeUInt16BE(bytes, at);
  out.write(value, at + 2, bytes, 'utf8');
  return at + 2 + bytes;
}

/** The type of a bad value, never the value itself. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
