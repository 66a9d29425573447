import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RegistryError, type RegistryProblem } from '../errors';
import { describeType } from '../sql/identifiers';
import type { ValueFormat } from '../values/formats';
import { isPlainObject, unknownKeys } from './field-checks';
import { validateTable } from './table-validation';

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
// validation of the whole file (table-validation.ts validates each table)

const TOP_KEYS = new Set(['tables', '$schema']);

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
