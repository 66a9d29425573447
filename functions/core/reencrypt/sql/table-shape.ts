import { MIN_ENVELOPE_BYTES, TEXT_PREFIX_V1 } from '../../crypto/envelope';
import { LOCAL_WRAPPED_KEY_BYTES } from '../../crypto/keyrings/local-wrap';
import type { Sql } from '../../ports/sql';
import { RegistryError, type RegistryProblem } from '../errors';
import { qualifiedName } from './identifiers';
import { tableKey, type Registry, type RegistryTable } from '../config/registry';

/**
 * What the engine needs to know about a registered table's live schema: the
 * SQL type to cast keyset bounds to, and whether each column stores text or
 * bytes (text columns take text envelopes, bytea columns binary ones).
 */
export type IdType = 'smallint' | 'integer' | 'bigint' | 'uuid' | 'text';
export type StorageForm = 'text' | 'binary';

export interface TableShape {
  readonly idType: IdType;
  /** Storage form of every registered column (encrypted, blind index, source, key id). */
  readonly forms: Readonly<Record<string, StorageForm>>;
  /** varchar(n) limits of registered value columns: a value longer than n is a row error, not a failed batch. */
  readonly maxChars?: Readonly<Record<string, number>>;
}

/** PostgreSQL type name (pg_type.typname) → how the engine treats it. */
const ID_TYPES: Readonly<Record<string, IdType>> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  uuid: 'uuid',
  text: 'text',
  varchar: 'text',
};
const VALUE_FORMS: Readonly<Record<string, StorageForm>> = { text: 'text', varchar: 'text', bytea: 'binary' };
const KEY_ID_TYPES = new Set(['text', 'varchar']);

interface ColumnRow {
  readonly column_name: string;
  readonly type_name: string;
  /** varchar(n): n; null for an unbounded type. */
  readonly max_chars: number | null;
  readonly unique_alone: boolean;
}

/**
 * The shortest text envelope there is: an empty value under a one-character
 * key id with the shortest wrapped data key (the local wrap of the raw and
 * hierarchical keyrings; KMS blobs are longer). A varchar column shorter than
 * this can hold no envelope at all, so every row would fail: refused up front.
 */
export const MIN_TEXT_ENVELOPE_CHARS =
  TEXT_PREFIX_V1.length + Math.ceil(((MIN_ENVELOPE_BYTES - 1 + LOCAL_WRAPPED_KEY_BYTES) * 4) / 3);

/** The live columns of a table (empty when the table does not exist). */
async function liveColumns(sql: Sql, table: RegistryTable): Promise<Map<string, ColumnRow>> {
  // to_regclass resolves the quoted name through search_path exactly as the engine's statements will.
  // Catalog names are cast to text: the Data API cannot return PostgreSQL's `name` type.
  const { rows } = await sql.query<ColumnRow>(
    `SELECT a.attname::text AS column_name, t.typname::text AS type_name,
            CASE WHEN t.typname = 'varchar' AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS max_chars,
            EXISTS (SELECT 1 FROM pg_index i
                     WHERE i.indrelid = a.attrelid AND i.indisunique AND i.indnkeyatts = 1
                       AND i.indkey[0] = a.attnum AND i.indpred IS NULL) AS unique_alone
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`,
    [qualifiedName(table)],
  );
  return new Map(rows.map((r) => [r.column_name, r]));
}

/** Problems of one table against the live schema, each with its registry path. */
async function tableProblems(
  sql: Sql,
  table: RegistryTable,
  at: string,
): Promise<{ problems: RegistryProblem[]; shape?: TableShape }> {
  const problems: RegistryProblem[] = [];
  const columns = await liveColumns(sql, table);
  if (columns.size === 0) {
    problems.push({ path: `${at}.name`, message: `table ${JSON.stringify(tableKey(table))} does not exist` });
    return { problems };
  }
  const where = (column: string): string => `${tableKey(table)}.${column}`;
  const check: TableCheck = { table, at, columns, problems, where };
  // Every check runs even after a problem, so one error lists all of a table's problems in registry order.
  const idType = checkIdColumn(check);
  const { forms, maxChars } = checkValueColumns(check);
  checkKeyIdColumn(check, forms);
  checkTenantColumn(check);
  return problems.length === 0 && idType
    ? { problems, shape: { idType, forms, ...(Object.keys(maxChars).length > 0 ? { maxChars } : {}) } }
    : { problems };
}

/** One table's live columns and the problems found so far (each check appends to them). */
interface TableCheck {
  readonly table: RegistryTable;
  /** The table's path in the registry, for each problem's path. */
  readonly at: string;
  readonly columns: ReadonlyMap<string, ColumnRow>;
  readonly problems: RegistryProblem[];
  /** `schema.table.column`, for messages. */
  readonly where: (column: string) => string;
}

/** The id column exists, has a keyset-able type and a unique index of its own; its type when it has one. */
function checkIdColumn({ table, at, columns, problems, where }: TableCheck): IdType | undefined {
  const id = columns.get(table.idColumn);
  let idType: IdType | undefined;
  if (!id) problems.push({ path: `${at}.idColumn`, message: `column ${where(table.idColumn)} does not exist` });
  else {
    idType = ID_TYPES[id.type_name];
    if (!idType) {
      problems.push({
        path: `${at}.idColumn`,
        message: `${where(table.idColumn)} is ${id.type_name}; the id column must be smallint, integer, bigint, uuid, text or varchar`,
      });
    }
    if (!id.unique_alone) {
      problems.push({
        path: `${at}.idColumn`,
        message: `${where(table.idColumn)} has no unique index of its own; keyset batches need a unique id`,
      });
    }
  }
  return idType;
}

/** Encrypted, blind index and plaintext source columns: each exists and stores text or bytes; their forms and varchar limits. */
function checkValueColumns(check: TableCheck): {
  forms: Record<string, StorageForm>;
  maxChars: Record<string, number>;
} {
  const { table, at, columns, problems, where } = check;
  const forms: Record<string, StorageForm> = {};
  const maxChars: Record<string, number> = {};
  const valueColumn = (column: string, path: string, role: string): void => {
    const live = columns.get(column);
    if (!live) return void problems.push({ path, message: `column ${where(column)} does not exist` });
    const form = VALUE_FORMS[live.type_name];
    if (!form)
      return void problems.push({
        path,
        message: `${role} ${where(column)} is ${live.type_name}; it must be text, varchar or bytea`,
      });
    forms[column] = form;
    if (live.max_chars != null) maxChars[column] = Number(live.max_chars);
  };
  table.columns.forEach((c, j) => valueColumn(c, `${at}.columns[${j}]`, 'encrypted column'));
  checkEnvelopesFit(check);
  for (const [col, hash] of Object.entries(table.blindIndex))
    valueColumn(hash, `${at}.blindIndex.${col}`, 'blind index column');
  for (const m of table.encrypt) valueColumn(m.source, `${at}.encrypt.${m.source}`, 'plaintext source column');
  return { forms, maxChars };
}

/** An encrypted varchar(n) column must hold at least the shortest envelope. */
function checkEnvelopesFit({ table, at, columns, problems, where }: TableCheck): void {
  table.columns.forEach((c, j) => {
    const max = columns.get(c)?.max_chars;
    if (max != null && max < MIN_TEXT_ENVELOPE_CHARS) {
      problems.push({
        path: `${at}.columns[${j}]`,
        message: `${where(c)} is varchar(${max}); the shortest envelope is ${MIN_TEXT_ENVELOPE_CHARS} characters (about 4/3 × the value's bytes + ${MIN_TEXT_ENVELOPE_CHARS} with a raw key, more with KMS): use text or bytea`,
      });
    }
  });
}

/** The key id column, when registered, exists and stores text (recorded in `forms`). */
function checkKeyIdColumn(
  { table, at, columns, problems, where }: TableCheck,
  forms: Record<string, StorageForm>,
): void {
  if (table.keyIdColumn) {
    const live = columns.get(table.keyIdColumn);
    if (!live)
      problems.push({ path: `${at}.keyIdColumn`, message: `column ${where(table.keyIdColumn)} does not exist` });
    else if (!KEY_ID_TYPES.has(live.type_name)) {
      problems.push({
        path: `${at}.keyIdColumn`,
        message: `${where(table.keyIdColumn)} is ${live.type_name}; the key id column must be text or varchar`,
      });
    } else forms[table.keyIdColumn] = 'text';
  }
}

/** The tenant column, when registered, exists. */
function checkTenantColumn({ table, at, columns, problems, where }: TableCheck): void {
  if (table.tenantColumn && !columns.has(table.tenantColumn)) {
    problems.push({ path: `${at}.tenantColumn`, message: `column ${where(table.tenantColumn)} does not exist` });
  }
}

/**
 * Checks every registered table against the live schema: tables and columns
 * exist, the id column is a supported unique type, value columns are text,
 * varchar or bytea. Throws one RegistryError listing every problem.
 */
export async function checkAgainstDatabase(sql: Sql, registry: Registry): Promise<Map<string, TableShape>> {
  const problems: RegistryProblem[] = [];
  const shapes = new Map<string, TableShape>();
  for (const [i, table] of registry.tables.entries()) {
    const result = await tableProblems(sql, table, `tables[${i}]`);
    problems.push(...result.problems);
    if (result.shape) shapes.set(tableKey(table), result.shape);
  }
  if (problems.length > 0) throw new RegistryError(problems, 'registry vs. database');
  return shapes;
}

/** The shape of one table; throws RegistryError when it does not match the registry. */
export async function describeTable(sql: Sql, table: RegistryTable): Promise<TableShape> {
  const { problems, shape } = await tableProblems(sql, table, tableKey(table));
  if (!shape) throw new RegistryError(problems, 'registry vs. database');
  return shape;
}

/** Caches table shapes for the life of a worker (schemas do not change under a running job). */
export class TableShapeCache {
  private readonly shapes = new Map<string, Promise<TableShape>>();

  get(sql: Sql, table: RegistryTable): Promise<TableShape> {
    const key = tableKey(table);
    let shape = this.shapes.get(key);
    if (!shape) {
      shape = describeTable(sql, table);
      shape.catch(() => this.shapes.delete(key));
      this.shapes.set(key, shape);
    }
    return shape;
  }
}
