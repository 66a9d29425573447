import type { RegistryProblem } from '../errors';
import { describeType, identifierProblem } from '../sql/identifiers';
import { isValueFormat, VALUE_FORMATS, type ValueFormat } from '../values/formats';
import { crossCheck } from './column-roles';
import type { EncryptMapping, RegistryTable } from './registry';
import { isPlainObject, optionalIdentifier, requiredIdentifier, unknownKeys } from './field-checks';

/**
 * Validation of one entry of the registry's `tables` (registry.ts has the
 * shape). Each part (columns, encrypt mappings, blind indexes, format) records
 * its problems and goes on, so the error lists every mistake of the table.
 */

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

export function validateTable(value: unknown, at: string, problems: RegistryProblem[]): RegistryTable | undefined {
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
  const columns = validateColumns(value['columns'], value['encrypt'] !== undefined, at, problems);
  const encrypt = validateEncrypt(value['encrypt'], columns, at, problems);
  const blindIndex = validateBlindIndex(value['blindIndex'], columns, at, problems);
  const format = validateFormat(value['format'], keyIdColumn, at, problems);

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

/** `columns`: the encrypted columns; may be left out when `encrypt` names the targets. */
function validateColumns(
  columnsValue: unknown,
  hasEncrypt: boolean,
  at: string,
  problems: RegistryProblem[],
): string[] {
  const columns: string[] = [];
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
  return columns;
}

/** `encrypt`: plaintext source → {target, blindIndex?, clearSource?}; each target joins `columns`. */
function validateEncrypt(
  encryptValue: unknown,
  columns: string[],
  at: string,
  problems: RegistryProblem[],
): EncryptMapping[] {
  const encrypt: EncryptMapping[] = [];
  if (encryptValue === undefined) return encrypt;
  if (!isPlainObject(encryptValue)) {
    problems.push({
      path: `${at}.encrypt`,
      message: `must be an object mapping plaintext column to {target, ...}, got ${describeType(encryptValue)}`,
    });
  } else if (Object.keys(encryptValue).length === 0) {
    problems.push({ path: `${at}.encrypt`, message: 'must map at least one plaintext column' });
  } else {
    for (const [source, spec] of Object.entries(encryptValue)) {
      const mapping = validateMapping(source, spec, `${at}.encrypt.${source}`, problems);
      if (!mapping) continue;
      if (!columns.includes(mapping.target)) columns.push(mapping.target);
      encrypt.push(mapping);
    }
  }
  return encrypt;
}

function validateMapping(
  source: string,
  spec: unknown,
  path: string,
  problems: RegistryProblem[],
): EncryptMapping | undefined {
  const sourceProblem = identifierProblem(source);
  if (sourceProblem) problems.push({ path, message: `key ${sourceProblem}` });
  if (!isPlainObject(spec)) {
    problems.push({
      path,
      message: `must be an object {target, blindIndex?, clearSource?}, got ${describeType(spec)}`,
    });
    return undefined;
  }
  unknownKeys(spec, MAPPING_KEYS, path, problems);
  const target = requiredIdentifier(spec, 'target', path, problems);
  const hash = optionalIdentifier(spec, 'blindIndex', path, problems);
  const clear = spec['clearSource'];
  if (clear !== undefined && typeof clear !== 'boolean') {
    problems.push({ path: `${path}.clearSource`, message: `must be true or false, got ${describeType(clear)}` });
  }
  if (sourceProblem || !target) return undefined;
  return { source, target, clearSource: clear === true, ...(hash ? { blindIndex: hash } : {}) };
}

/** `blindIndex`: encrypted column → hash column. */
function validateBlindIndex(
  blindValue: unknown,
  columns: readonly string[],
  at: string,
  problems: RegistryProblem[],
): Record<string, string> {
  const blindIndex: Record<string, string> = {};
  if (blindValue === undefined) return blindIndex;
  if (!isPlainObject(blindValue)) {
    problems.push({
      path: `${at}.blindIndex`,
      message: `must be an object mapping encrypted column to hash column, got ${describeType(blindValue)}`,
    });
    return blindIndex;
  }
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
  return blindIndex;
}

function validateFormat(
  formatValue: unknown,
  keyIdColumn: string | undefined,
  at: string,
  problems: RegistryProblem[],
): ValueFormat | undefined {
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
  return format;
}
