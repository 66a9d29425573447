import type { ColumnMetadata, Field, SqlParameter } from '@aws-sdk/client-rds-data';
import type { SqlValue } from '../../ports/sql';
import { DataApiParameterError } from './errors';

/** One `$n` as the Data API takes it: the named parameter and the SQL that stands for `$n`. */
export interface EncodedParameter {
  readonly parameter: SqlParameter;
  readonly placeholder: string;
}

const INT8_MIN = -(2n ** 63n);
const INT8_MAX = 2n ** 63n - 1n;

/**
 * A SqlValue → a Data API parameter named `p<index>`.
 *
 * The Data API types a parameter by the field it travels in (stringValue is
 * varchar, longValue int8, doubleValue float8, blobValue bytea, isNull
 * untyped) or by its typeHint, never by context as node-postgres does — so
 * SQL that compares a string parameter with a non-text column needs a cast
 * (`$1::bigint`). Mapping: string → stringValue; safe integer → longValue,
 * other finite number → doubleValue; bigint → longValue when safe, else a
 * string cast to bigint in SQL (numeric when out of int8 range); boolean →
 * booleanValue; Buffer → blobValue; Date → TIMESTAMP text in UTC read back
 * `AT TIME ZONE 'UTC'` (an instant whatever the server's TimeZone); plain
 * object → JSON. Arrays are not Data API parameters: one travels as a JSON
 * text (bytea elements base64) that the placeholder expands back into an
 * array, elements in order.
 */
export function encodeParameter(index: number, value: SqlValue | undefined): EncodedParameter {
  const name = `p${index}`;
  const named = `:${name}`;
  if (value === null || value === undefined)
    return { parameter: { name, value: { isNull: true } }, placeholder: named };
  if (value instanceof Uint8Array)
    return {
      parameter: { name, value: { blobValue: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) } },
      placeholder: named,
    };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()) || value.getUTCFullYear() < 1 || value.getUTCFullYear() > 9999) {
      throw new DataApiParameterError(`parameter $${index} is an invalid Date or outside years 1-9999`);
    }
    return {
      parameter: { name, value: { stringValue: timestampText(value) }, typeHint: 'TIMESTAMP' },
      placeholder: `(${named} AT TIME ZONE 'UTC')`,
    };
  }
  if (Array.isArray(value)) return encodeArray(index, name, value as readonly unknown[]);
  switch (typeof value) {
    case 'string':
      return { parameter: { name, value: { stringValue: value } }, placeholder: named };
    case 'number':
      if (!Number.isFinite(value)) throw new DataApiParameterError(`parameter $${index} is not a finite number`);
      return Number.isSafeInteger(value)
        ? { parameter: { name, value: { longValue: value } }, placeholder: named }
        : { parameter: { name, value: { doubleValue: value } }, placeholder: named };
    case 'bigint':
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
        return { parameter: { name, value: { longValue: Number(value) } }, placeholder: named };
      }
      // A JSON number past 2^53 would be rounded on the way: send the digits.
      return value >= INT8_MIN && value <= INT8_MAX
        ? { parameter: { name, value: { stringValue: value.toString() } }, placeholder: `CAST(${named} AS bigint)` }
        : { parameter: { name, value: { stringValue: value.toString() }, typeHint: 'DECIMAL' }, placeholder: named };
    case 'boolean':
      return { parameter: { name, value: { booleanValue: value } }, placeholder: named };
    case 'object':
      return {
        parameter: { name, value: { stringValue: JSON.stringify(value) }, typeHint: 'JSON' },
        placeholder: named,
      };
    default:
      throw new DataApiParameterError(`parameter $${index} is a ${typeof value}, which has no SQL type`);
  }
}

function encodeArray(index: number, name: string, value: readonly unknown[]): EncodedParameter {
  const binary = value.some((v) => v instanceof Uint8Array);
  const elements = value.map((v, i) => {
    if (v === null || v === undefined) return null;
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    if (binary)
      throw new DataApiParameterError(`parameter $${index} mixes bytea and other elements (element ${i + 1})`);
    if (typeof v === 'string') return v;
    if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint' || typeof v === 'boolean')
      return String(v);
    throw new DataApiParameterError(
      `parameter $${index} element ${i + 1} is not a string, Buffer, finite number, boolean or null`,
    );
  });
  const element = binary ? "decode(e.x, 'base64')" : 'e.x';
  return {
    parameter: { name, value: { stringValue: JSON.stringify(elements) }, typeHint: 'JSON' },
    placeholder: `ARRAY(SELECT ${element} FROM jsonb_array_elements_text(CAST(:${name} AS jsonb)) WITH ORDINALITY AS e(x, i) ORDER BY e.i)`,
  };
}

/**
 * One result field as the pg adapter returns it: int8 and numeric as strings
 * (a JS number would round past 2^53), bytea as Buffer, timestamps as Date,
 * json parsed, other text as is.
 */
export function decodeField(field: Field, column: ColumnMetadata | undefined): unknown {
  if (field.isNull) return null;
  const type = (column?.typeName ?? '').toLowerCase();
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue);
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.longValue !== undefined)
    return type === 'int8' || type === 'bigserial' || type === 'numeric' ? String(field.longValue) : field.longValue;
  if (field.doubleValue !== undefined) return type === 'numeric' ? String(field.doubleValue) : field.doubleValue;
  if (field.arrayValue !== undefined) {
    const a = field.arrayValue;
    if (a.longValues) return type === '_int8' ? a.longValues.map(String) : a.longValues;
    return a.stringValues ?? a.doubleValues ?? a.booleanValues ?? [];
  }
  const text = field.stringValue ?? '';
  if (type === 'timestamptz' || type === 'timestamp') return parseTimestamp(text);
  if (type === 'json' || type === 'jsonb') return JSON.parse(text) as unknown;
  if (type === 'bytea') return Buffer.from(text, 'base64');
  return text;
}

/** The Data API's TIMESTAMP format, YYYY-MM-DD HH:MM:SS.FFF, in UTC. */
function timestampText(d: Date): string {
  return d.toISOString().replace('T', ' ').replace('Z', '');
}

/** Data API timestamps carry no zone (they are UTC); tolerate a trailing offset all the same. */
function parseTimestamp(text: string): Date {
  const iso = text.replace(' ', 'T');
  if (/Z$/.test(iso)) return new Date(iso);
  const offset = /([+-]\d\d)(:?(\d\d))?$/.exec(iso);
  if (offset && iso.length > 19) return new Date(`${iso.slice(0, offset.index)}${offset[1]}:${offset[3] ?? '00'}`);
  return new Date(`${iso}Z`);
}
