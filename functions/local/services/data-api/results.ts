import pg from 'pg';
import { DataApiFault } from './faults';

/** How the caller asked for LONG and DECIMAL columns (ExecuteStatement resultSetOptions). */
export interface ResultSetOptions {
  readonly longReturnType?: string;
  readonly decimalReturnType?: string;
}

/** typeName and java.sql.Types code the service reports per PostgreSQL type (pgjdbc's names). */
/**
 * Only the types the service documents for Aurora PostgreSQL (BOOL, BYTEA,
 * DATE, CIDR, DECIMAL/NUMERIC, ENUM, FLOAT8, REAL, INET, INT, INT8, JSON(B),
 * SMALLINT, TEXT, TIME, TIMESTAMP, UUID and arrays of the scalar ones) and
 * the spellings its driver reports for the same (varchar, timestamptz);
 * any other result column (void, name, oid, "char", bpchar, interval, reg*,
 * …) is refused with UnsupportedResultException as the service does, so code
 * that passes here casts what it selects (`attname::text`,
 * `SELECT 1 FROM pg_advisory_xact_lock(…)`).
 */
const TYPES: Record<number, { name: string; jdbc: number }> = {
  16: { name: 'bool', jdbc: -7 },
  17: { name: 'bytea', jdbc: -2 },
  20: { name: 'int8', jdbc: -5 },
  21: { name: 'int2', jdbc: 5 },
  23: { name: 'int4', jdbc: 4 },
  25: { name: 'text', jdbc: 12 },
  114: { name: 'json', jdbc: 1111 },
  650: { name: 'cidr', jdbc: 1111 },
  869: { name: 'inet', jdbc: 1111 },
  700: { name: 'float4', jdbc: 7 },
  701: { name: 'float8', jdbc: 8 },
  1043: { name: 'varchar', jdbc: 12 },
  1082: { name: 'date', jdbc: 91 },
  1083: { name: 'time', jdbc: 92 },
  1114: { name: 'timestamp', jdbc: 93 },
  1184: { name: 'timestamptz', jdbc: 93 },
  1700: { name: 'numeric', jdbc: 2 },
  2950: { name: 'uuid', jdbc: 1111 },
  3802: { name: 'jsonb', jdbc: 1111 },
  1000: { name: '_bool', jdbc: 2003 },
  1005: { name: '_int2', jdbc: 2003 },
  1007: { name: '_int4', jdbc: 2003 },
  1009: { name: '_text', jdbc: 2003 },
  1015: { name: '_varchar', jdbc: 2003 },
  1016: { name: '_int8', jdbc: 2003 },
  1021: { name: '_float4', jdbc: 2003 },
  1022: { name: '_float8', jdbc: 2003 },
};
const ARRAY_KIND: Record<number, 'boolean' | 'long' | 'double' | 'string'> = {
  1000: 'boolean',
  1005: 'long',
  1007: 'long',
  1016: 'long',
  1021: 'double',
  1022: 'double',
  1009: 'string',
  1015: 'string',
};
/** Array types PostgreSQL has that the Data API cannot return (bytea[], uuid[], json[], …). */
const UNSUPPORTED_ARRAYS = new Set([1001, 1014, 1182, 1183, 1185, 1115, 1231, 2951, 199, 3807]);

/** Whether the service can return a column of this type; `userType` describes an OID outside the built-in table (enums are supported). */
function supportedResultType(oid: number, userType?: { readonly typtype: string }): boolean {
  return oid in TYPES || oid in ARRAY_KIND || userType?.typtype === 'e';
}

/**
 * A check that refuses a result whose columns the service could not return
 * (void, name, interval, …) with UnsupportedResultException. OIDs outside the
 * built-in table are looked up in pg_type on the statement's own connection
 * (enums pass) and remembered.
 */
export function resultTypeCheck(): (client: pg.PoolClient, fields: readonly pg.FieldDef[]) => Promise<void> {
  const userTypes = new Map<number, { typname: string; typtype: string }>();
  return async (client, fields) => {
    for (const f of fields) {
      if (supportedResultType(f.dataTypeID)) continue;
      let type = userTypes.get(f.dataTypeID);
      if (!type) {
        const { rows } = await client.query<{ typname: string; typtype: string }>(
          'SELECT typname::text AS typname, typtype::text AS typtype FROM pg_type WHERE oid = $1',
          [f.dataTypeID],
        );
        type = rows[0] ?? { typname: String(f.dataTypeID), typtype: '?' };
        userTypes.set(f.dataTypeID, type);
      }
      if (!supportedResultType(f.dataTypeID, type)) {
        throw new DataApiFault(
          'UnsupportedResultException',
          `The result contains the unsupported data type ${type.typname.toUpperCase()}.`,
        );
      }
    }
  };
}

export function columnMetadata(field: pg.FieldDef): Record<string, unknown> {
  const type = TYPES[field.dataTypeID] ?? { name: 'varchar', jdbc: 12 }; // an enum: a string
  return {
    name: field.name,
    label: field.name,
    typeName: type.name,
    type: type.jdbc,
    schemaName: '',
    tableName: '',
    isAutoIncrement: false,
    isSigned: [20, 21, 23, 700, 701, 1700].includes(field.dataTypeID),
    isCurrency: false,
    isCaseSensitive: [25, 1043].includes(field.dataTypeID),
    nullable: 2,
    precision: 0,
    scale: 0,
    arrayBaseColumnType: 0,
  };
}

/** One value (PostgreSQL's text output) as a typed Data API field. */
export function toField(text: string | null, oid: number, options: ResultSetOptions): Record<string, unknown> {
  if (text === null) return { isNull: true };
  switch (oid) {
    case 16:
      return { booleanValue: text === 't' };
    case 17:
      return { blobValue: Buffer.from(text.slice(2), 'hex').toString('base64') };
    case 21:
    case 23:
      return { longValue: Number(text) };
    case 20:
      // As the real service: a JSON number, which a JavaScript client rounds past 2^53, unless asked for strings.
      return options.longReturnType === 'STRING' ? { stringValue: text } : { longValue: Number(text) };
    case 700:
    case 701:
      return { doubleValue: Number(text) };
    case 1700:
      if (options.decimalReturnType === 'DOUBLE_OR_LONG')
        return /^-?\d+$/.test(text) ? { longValue: Number(text) } : { doubleValue: Number(text) };
      return { stringValue: text };
    case 1184:
      // The service returns timestamps without a zone, in UTC (this server's sessions run in UTC).
      return { stringValue: text.replace(/\+00(:00)?$/, '') };
    default:
      break;
  }
  const kind = ARRAY_KIND[oid];
  if (kind) {
    const elements = (pg.types.getTypeParser(oid === 1015 ? 1009 : oid, 'text') as (t: string) => unknown[])(text);
    if (elements.some((e) => Array.isArray(e)))
      throw new DataApiFault(
        'UnsupportedResultException',
        'The result contains a multidimensional array, which is not supported.',
      );
    if (kind === 'long') return { arrayValue: { longValues: elements.map(Number) } };
    if (kind === 'double') return { arrayValue: { doubleValues: elements.map(Number) } };
    if (kind === 'boolean') return { arrayValue: { booleanValues: elements } };
    return { arrayValue: { stringValues: elements } };
  }
  if (UNSUPPORTED_ARRAYS.has(oid))
    throw new DataApiFault('UnsupportedResultException', `The result contains the unsupported data type ${oid}.`);
  return { stringValue: text };
}

/** A value in formatRecordsAs JSON: numbers, booleans and strings as JSON, blobs base64. */
export function toJsonValue(field: Record<string, unknown>): unknown {
  if (field.isNull) return null;
  if (field.arrayValue) return Object.values(field.arrayValue as Record<string, unknown>)[0];
  return field.booleanValue ?? field.longValue ?? field.doubleValue ?? field.stringValue ?? field.blobValue;
}
