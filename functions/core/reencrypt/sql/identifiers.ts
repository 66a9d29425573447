/**
 * SQL identifiers. Every table and column name from the registry reaches SQL
 * through `quoteIdent`, never interpolated raw; the registry additionally
 * accepts only plain identifiers, so quoting is a second line of defence.
 */

/** A plain PostgreSQL identifier: letters, digits, `_` and `$`, not starting with a digit. */
const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** PostgreSQL truncates identifiers longer than NAMEDATALEN-1 bytes. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Why `name` is not an acceptable identifier, or undefined when it is. */
export function identifierProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a string, got ${describeType(name)}`;
  if (name.length === 0) return 'must not be empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    return `must be at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)`;
  }
  if (!PLAIN_IDENTIFIER.test(name)) {
    return `${JSON.stringify(name)} is not a plain SQL identifier (letters, digits, _ and $, not starting with a digit)`;
  }
  if (name.startsWith(RESERVED_PREFIX))
    return `names starting with ${RESERVED_PREFIX} are reserved for rekey's own result columns`;
  return undefined;
}

/** Prefix of the engine's own result aliases (statements.ts). */
export const RESERVED_PREFIX = '__rekey';

/** `name` as a quoted identifier: wrapped in double quotes, embedded quotes doubled. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new TypeError('an SQL identifier must be non-empty and contain no NUL character');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** `"schema"."table"`, or just `"table"` when no schema is given (resolved by search_path). */
export function qualifiedName(table: { readonly name: string; readonly schema?: string | undefined }): string {
  return table.schema ? `${quoteIdent(table.schema)}.${quoteIdent(table.name)}` : quoteIdent(table.name);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
