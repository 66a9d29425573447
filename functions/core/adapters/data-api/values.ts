import type { ColumnMetadata, Field, SqlParameter } from '@aws-sdk/client-rds-data';
import type { SqlValue } from '../../ports/sql';

/**
 * SqlValue ↔ Data API values. Parameters: string → stringValue, integer →
 * longValue, other number → doubleValue, bigint → stringValue (cast in SQL),
 * boolean, null → isNull, Buffer → blobValue, Date → TIMESTAMP stringValue,
 * plain object → JSON stringValue. Arrays are not Data API parameters: they
 * travel as one JSON parameter that `arrayExpression` turns back into an
 * array in SQL (bytea elements base64-encoded).
 */
export function toParameter(name: string, value: SqlValue): SqlParameter {
  if (value === null || value === undefined) return { name, value: { isNull: true } };
  if (Buffer.isBuffer(value)) return { name, value: { blobValue: new Uint8Array(value) } };
  if (value instanceof Date) return { name, value: { stringValue: timestampText(value) }, typeHint: 'TIMESTAMP' };
  if (Array.isArray(value)) {
    const elements = (value as readonly (string | Buffer | null)[]).map((v) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
    return { name, value: { stringValue: JSON.stringify(elements) }, typeHint: 'JSON' };
  }
  switch (typeof value) {
    case 'string':
      return { name, value: { stringValue: value } };
    case 'number':
      return Number.isInteger(value) ? { name, value: { longValue: value } } : { name, value: { doubleValue: value } };
    case 'bigint':
      return { name, value: { stringValue: value.toString() } };
    case 'boolean':
      return { name, value: { booleanValue: value } };
    default:
      return { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' };
  }
}

/** The SQL that stands for an array parameter: text[] or bytea[], elements in order. */
export function arrayExpression(name: string, value: readonly unknown[]): string {
  const binary = value.some((v) => Buffer.isBuffer(v));
  const element = binary ? "decode(e.x, 'base64')" : 'e.x';
  return `ARRAY(SELECT ${element} FROM jsonb_array_elements_text(CAST(:${name} AS jsonb)) WITH ORDINALITY AS e(x, i) ORDER BY e.i)`;
}

/** One result field as the pg adapter would return it: int8 and numeric as strings, bytea as Buffer, timestamps as Date, json parsed. */
export function fromField(field: Field, column: ColumnMetadata | undefined): unknown {
  if (field.isNull) return null;
  const type = (column?.typeName ?? '').toLowerCase();
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined) return type === 'int8' || type === 'bigserial' ? String(field.longValue) : field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.arrayValue !== undefined) {
    const a = field.arrayValue;
    return a.stringValues ?? a.longValues ?? a.doubleValues ?? a.booleanValues ?? [];
  }
  const text = field.stringValue ?? '';
  if (type === 'timestamptz' || type === 'timestamp') return parseTimestamp(text);
  if (type === 'json' || type === 'jsonb') return JSON.parse(text) as unknown;
  if (type === 'bytea') return Buffer.from(text, 'base64');
  return text;
}

function timestampText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

function parseTimestamp(text: string): Date {
  const iso = text.replace(' ', 'T');
  return new Date(/[+-]\d\d(:?\d\d)?$|Z$/.test(iso) ? iso.replace(/([+-]\d\d)$/, '$1:00') : `${iso}Z`);
}
