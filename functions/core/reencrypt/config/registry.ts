import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RegistryError, type RegistryProblem } from '../errors';
import { describeType, identifierProblem } from '../sql/identifiers';
import { isValueFormat, VALUE_FORMATS, type ValueFormat } from '../values/formats';

/**
 * The registry of encrypted columns: which tables hold ciphertexts, how their
 * rows are identified, and (for `encrypt` mode) which plaintext columns move
 * into which encrypted ones. Loaded from `rekey.config.json`:
 *
 * ```json
 * { "tables": [
 *   { "name": "users", "idColumn": "id", "columns": ["ssn"],
 *     "tenantColumn": "org_id", "blindIndex": { "ssn": "ssn_hash" }, "format": "rk1",
 *     "encrypt": { "email": { "target": "email_encrypted", "blindIndex": "email_hash", "clearSource": true } } }
 * ] }
 * ```
 */
export interface EncryptMapping {
  /** The plaintext source column. */
  readonly source: string;
  /** The encrypted column the envelope goes to (also listed in `columns`). */
  readonly target: string;
  /** Column receiving the blind index (HMAC) of the plaintext. */
  readonly blindIndex?: string;
  /** Set the source column to NULL once the target holds the envelope. */
  readonly clearSource: boolean;
}

export interface RegistryTable {
  /** Table name; also the `table` of the encryption context. */
  readonly name: string;
  readonly schema?: string;
  readonly idColumn: string;
  /** Every encrypted column, encrypt-mode targets included. */
  readonly columns: readonly string[];
  /** A column holding the key id of the row's envelopes, maintained by the application; lets the planner count by index. */
  readonly keyIdColumn?: string;
  /** Column naming the row's tenant; goes into the encryption context. */
  readonly tenantColumn?: string;
  /** encrypted column → blind index column. */
  readonly blindIndex: Readonly<Record<string, string>>;
  /** encrypt mode: plaintext source → target mappings. */
  readonly encrypt: readonly EncryptMapping[];
  /**
   * The format the table's application reads (formats.ts): rotation keeps it,
   * `migrate` changes it to rk1. @default 'rk1'
   */
  readonly format?: ValueFormat;
}

export interface Registry {
  readonly tables: readonly RegistryTable[];
}

/** The name jobs and batches use for a table: `schema.name` or `name`. */
export function tableKey(table: Pick<RegistryTable, 'name' | 'schema'>): string {
  return table.schema ? `${table.schema}.${table.name}` : table.name;
}

export const DEFAULT_REGISTRY_FILE = 'rekey.config.json';

/**
 * Reads and validates a registry file (default `./rekey.config.json`).
 * Throws RegistryError listing every problem, each with its path.
 */
export function loadRegistry(path: string = DEFAULT_REGISTRY_FILE): Registry {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot be read';
    throw new RegistryError([{ path: '(file)', message: `${file}: ${reason}` }], file, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new RegistryError([{ path: '(file)', message: `not valid JSON: ${(cause as Error).message}` }], file, {
      cause,
    });
  }
  return parseRegistry(parsed, file);
}

/** Validates a registry given as a value (parsed JSON). Throws RegistryError listing every problem. */
export function parseRegistry(value: unknown, source = 'registry'): Registry {
  const problems: RegistryProblem[] = [];
  const registry = validate(value, problems);
  if (problems.length > 0 || !registry) throw new RegistryError(problems, source);
  return registry;
}

/**
 * The tables named in `names` (by `name` or `schema.name`), in registry order;
 * all tables when `names` is empty or absent. Unknown names are a RegistryError.
 */
export function selectTables(registry: Registry, names?: readonly string[]): readonly RegistryTable[] {
  if (!names || names.length === 0) return registry.tables;
  const problems: RegistryProblem[] = [];
  const known = new Set(registry.tables.flatMap((t) => [t.name, tableKey(t)]));
  names.forEach((n, i) => {
    if (!known.has(n)) {
      problems.push({
        path: `tables[${i}]`,
        message: `unknown table ${JSON.stringify(n)}; the registry has ${registry.tables.map(tableKey).join(', ')}`,
      });
    }
  });
  if (problems.length > 0) throw new RegistryError(problems, 'table selection');
  const wanted = new Set(names);
  return registry.tables.filter((t) => wanted.has(t.name) || wanted.has(tableKey(t)));
}

/** Finds a table by its key (`schema.name` or `name`). */
export function findTable(registry: Registry, key: string): RegistryTable | undefined {
  return registry.tables.find((t) => tableKey(t) === key) ?? registry.tables.find((t) => t.name === key);
}

// ---------------------------------------------------------------------------
// validation

const TOP_KEYS = new Set(['tables', '$schema']);
const TABLE_KEYS = new Set([
  'name',
  'schema',
  'idColumn',
  'columns',
  'keyIdColumn',
  'tenantColumn',
  'blindIndex',
  'encrypt',
  'format',
]);
const MAPPING_KEYS = new Set(['target', 'blindIndex', 'clearSource']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validate(value: unknown, problems: RegistryProblem[]): Registry | undefined {
  if (!isPlainObject(value)) {
    problems.push({ path: '(root)', message: `must be an object with a "tables" array, got ${describeType(value)}` });
    return undefined;
  }
  unknownKeys(value, TOP_KEYS, '', problems);
  const tablesValue = value['tables'];
  if (tablesValue === undefined) {
    problems.push({ path: 'tables', message: 'required' });
    return undefined;
  }
  if (!Array.isArray(tablesValue)) {
    problems.push({ path: 'tables', message: `must be an array, got ${describeType(tablesValue)}` });
    return undefined;
  }
  if (tablesValue.length === 0) problems.push({ path: 'tables', message: 'must list at least one table' });

  const tables: RegistryTable[] = [];
  const seen = new Map<string, number>();
  tablesValue.forEach((t, i) => {
    const table = validateTable(t, `tables[${i}]`, problems);
    if (!table) return;
    const key = tableKey(table);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        path: `tables[${i}].name`,
        message: `duplicate table ${JSON.stringify(key)} (also tables[${first}])`,
      });
    } else {
      seen.set(key, i);
    }
    tables.push(table);
  });
  return { tables };
}

function validateTable(value: unknown, at: string, problems: RegistryProblem[]): RegistryTable | undefined {
  if (!isPlainObject(value)) {
    problems.push({ path: at, message: `must be an object, got ${describeType(value)}` });
    return undefined;
  }
  const before = problems.length;
  unknownKeys(value, TABLE_KEYS, at, problems);

  const name = requiredIdentifier(value, 'name', at, problems);
  const schema = optionalIdentifier(value, 'schema', at, problems);
  const idColumn = requiredIdentifier(value, 'idColumn', at, problems);
  const keyIdColumn = optionalIdentifier(value, 'keyIdColumn', at, problems);
  const tenantColumn = optionalIdentifier(value, 'tenantColumn', at, problems);

  // columns
  const columns: string[] = [];
  const columnsValue = value['columns'];
  const hasEncrypt = value['encrypt'] !== undefined;
  if (columnsValue === undefined) {
    if (!hasEncrypt)
      problems.push({ path: `${at}.columns`, message: 'required (the encrypted columns of this table)' });
  } else if (!Array.isArray(columnsValue)) {
    problems.push({
      path: `${at}.columns`,
      message: `must be an array of column names, got ${describeType(columnsValue)}`,
    });
  } else {
    if (columnsValue.length === 0 && !hasEncrypt) {
      problems.push({ path: `${at}.columns`, message: 'must list at least one encrypted column' });
    }
    columnsValue.forEach((c, j) => {
      const problem = identifierProblem(c);
      if (problem) problems.push({ path: `${at}.columns[${j}]`, message: problem });
      else if (columns.includes(c as string)) {
        problems.push({ path: `${at}.columns[${j}]`, message: `duplicate column ${JSON.stringify(c)}` });
      } else columns.push(c as string);
    });
  }

  // encrypt: source -> {target, blindIndex?, clearSource?}
  const encrypt: EncryptMapping[] = [];
  const encryptValue = value['encrypt'];
  if (encryptValue !== undefined) {
    if (!isPlainObject(encryptValue)) {
      problems.push({
        path: `${at}.encrypt`,
        message: `must be an object mapping plaintext column to {target, ...}, got ${describeType(encryptValue)}`,
      });
    } else if (Object.keys(encryptValue).length === 0) {
      problems.push({ path: `${at}.encrypt`, message: 'must map at least one plaintext column' });
    } else {
      for (const [source, spec] of Object.entries(encryptValue)) {
        const path = `${at}.encrypt.${source}`;
        const sourceProblem = identifierProblem(source);
        if (sourceProblem) problems.push({ path, message: `key ${sourceProblem}` });
        if (!isPlainObject(spec)) {
          problems.push({
            path,
            message: `must be an object {target, blindIndex?, clearSource?}, got ${describeType(spec)}`,
          });
          continue;
        }
        unknownKeys(spec, MAPPING_KEYS, path, problems);
        const target = requiredIdentifier(spec, 'target', path, problems);
        const hash = optionalIdentifier(spec, 'blindIndex', path, problems);
        const clear = spec['clearSource'];
        if (clear !== undefined && typeof clear !== 'boolean') {
          problems.push({ path: `${path}.clearSource`, message: `must be true or false, got ${describeType(clear)}` });
        }
        if (sourceProblem || !target) continue;
        if (!columns.includes(target)) columns.push(target);
        encrypt.push({ source, target, clearSource: clear === true, ...(hash ? { blindIndex: hash } : {}) });
      }
    }
  }

  // blindIndex: encrypted column -> hash column
  const blindIndex: Record<string, string> = {};
  const blindValue = value['blindIndex'];
  if (blindValue !== undefined) {
    if (!isPlainObject(blindValue)) {
      problems.push({
        path: `${at}.blindIndex`,
        message: `must be an object mapping encrypted column to hash column, got ${describeType(blindValue)}`,
      });
    } else {
      for (const [col, hash] of Object.entries(blindValue)) {
        const path = `${at}.blindIndex.${col}`;
        const colProblem = identifierProblem(col);
        if (colProblem) problems.push({ path, message: `key ${colProblem}` });
        else if (!columns.includes(col)) {
          problems.push({ path, message: `${JSON.stringify(col)} is not one of this table's encrypted columns` });
        }
        const hashProblem = identifierProblem(hash);
        if (hashProblem) problems.push({ path, message: hashProblem });
        else blindIndex[col] = hash as string;
      }
    }
  }

  const formatValue = value['format'];
  let format: ValueFormat | undefined;
  if (formatValue !== undefined) {
    if (!isValueFormat(formatValue)) {
      problems.push({
        path: `${at}.format`,
        message: `must be one of ${VALUE_FORMATS.map((f) => JSON.stringify(f)).join(', ')}, got ${JSON.stringify(formatValue)}`,
      });
    } else format = formatValue;
  }
  if (format === 'fernet' && keyIdColumn) {
    // A Fernet token names no key; a key id column could only hold what rekey guessed, and the planner would trust it.
    problems.push({
      path: `${at}.keyIdColumn`,
      message: 'a "fernet" table cannot have a key id column: Fernet tokens name no key (rekey tells them by HMAC)',
    });
  }

  crossCheck({ idColumn, keyIdColumn, tenantColumn, columns, blindIndex, encrypt }, at, problems);
  if (problems.length > before || !name || !idColumn) return undefined;
  // One place for every blind index: the executor looks them up by encrypted column.
  for (const m of encrypt) if (m.blindIndex && blindIndex[m.target] === undefined) blindIndex[m.target] = m.blindIndex;
  return {
    name,
    ...(schema ? { schema } : {}),
    idColumn,
    columns,
    ...(keyIdColumn ? { keyIdColumn } : {}),
    ...(tenantColumn ? { tenantColumn } : {}),
    blindIndex,
    encrypt,
    ...(format && format !== 'rk1' ? { format } : {}),
  };
}

/** Every column must play one role only: a column written twice in one UPDATE is an error there too. */
function crossCheck(
  t: {
    idColumn?: string | undefined;
    keyIdColumn?: string | undefined;
    tenantColumn?: string | undefined;
    columns: readonly string[];
    blindIndex: Readonly<Record<string, string>>;
    encrypt: readonly EncryptMapping[];
  },
  at: string,
  problems: RegistryProblem[],
): void {
  const roles = new Map<string, string>();
  const claim = (column: string | undefined, role: string, path: string): void => {
    if (!column) return;
    const other = roles.get(column);
    if (other !== undefined && other !== role) {
      problems.push({ path, message: `column ${JSON.stringify(column)} is already used as ${other}` });
    } else roles.set(column, role);
  };
  claim(t.idColumn, 'the id column', `${at}.idColumn`);
  t.columns.forEach((c, j) => claim(c, 'an encrypted column', `${at}.columns[${j}]`));
  claim(t.keyIdColumn, 'the key id column', `${at}.keyIdColumn`);
  claim(t.tenantColumn, 'the tenant column', `${at}.tenantColumn`);
  const hashOwners = new Map<string, string>();
  const claimHash = (hash: string, owner: string, path: string): void => {
    const other = hashOwners.get(hash);
    if (other !== undefined) {
      problems.push({
        path,
        message: `blind index column ${JSON.stringify(hash)} is already the index of ${JSON.stringify(other)}`,
      });
      return;
    }
    hashOwners.set(hash, owner);
    claim(hash, 'a blind index column', path);
  };
  for (const [col, hash] of Object.entries(t.blindIndex)) claimHash(hash, col, `${at}.blindIndex.${col}`);
  const targets = new Map<string, string>();
  for (const m of t.encrypt) {
    const path = `${at}.encrypt.${m.source}`;
    claim(m.source, 'a plaintext source column', path);
    const other = targets.get(m.target);
    if (other !== undefined) {
      problems.push({
        path: `${path}.target`,
        message: `${JSON.stringify(m.target)} is already the target of ${JSON.stringify(other)}`,
      });
    } else targets.set(m.target, m.source);
    if (m.blindIndex) {
      const declared = t.blindIndex[m.target];
      if (declared !== undefined && declared !== m.blindIndex) {
        problems.push({
          path: `${path}.blindIndex`,
          message: `conflicts with blindIndex.${m.target} = ${JSON.stringify(declared)}`,
        });
      } else if (declared === undefined) claimHash(m.blindIndex, m.target, `${path}.blindIndex`);
    }
  }
}

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: ReadonlySet<string>,
  at: string,
  problems: RegistryProblem[],
): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      problems.push({
        path: at ? `${at}.${key}` : key,
        message: `unknown key (allowed: ${[...allowed].filter((k) => k !== '$schema').join(', ')})`,
      });
    }
  }
}

function requiredIdentifier(
  obj: Record<string, unknown>,
  key: string,
  at: string,
  problems: RegistryProblem[],
): string | undefined {
  const value = obj[key];
  if (value === undefined) {
    problems.push({ path: `${at}.${key}`, message: 'required' });
    return undefined;
  }
  const problem = identifierProblem(value);
  if (problem) {
    problems.push({ path: `${at}.${key}`, message: problem });
    return undefined;
  }
  return value as string;
}

function optionalIdentifier(
  obj: Record<string, unknown>,
  key: string,
  at: string,
  problems: RegistryProblem[],
): string | undefined {
  return obj[key] === undefined ? undefined : requiredIdentifier(obj, key, at, problems);
}
