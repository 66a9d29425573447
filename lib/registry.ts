import { REGISTRY_MAX_BYTES } from './defaults';
import type { PropsProblems } from './errors';
import { VALUE_FORMATS, type ValueFormat } from '../functions/core/reencrypt/values/formats';

/**
 * The encrypted-column registry as the stack carries it: the content of
 * rekey.config.json. The engine validates it in full at run time; the stack
 * checks the shape it can check at synth (so a typo fails `cdk synth`, not the
 * first execution) and that it fits the Lambda environment.
 */
export interface EncryptedColumnRegistry {
  readonly tables: readonly RegistryTable[];
}

export interface RegistryTable {
  readonly name: string;
  readonly schema?: string;
  readonly idColumn: string;
  readonly columns: readonly string[];
  /**
   * The format the table's application reads; rotation keeps it (a Fernet
   * table is rotated to the primary ENCRYPTION_KEY, a JSON key_id table to
   * the primary kek-vN) and `migrate` changes it to rk1. The workers of a
   * Fernet table need ENCRYPTION_KEY / ENCRYPTION_KEY_FALLBACK, those of a
   * JSON key_id table the raw keyring's SECRETS_ENCRYPTION_KEY(_PREVIOUS).
   * @default 'rk1'
   */
  readonly format?: ValueFormat;
  readonly [option: string]: unknown;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Adds a problem for every shape error in `registry`, under `prop`. */
export function checkRegistry(problems: PropsProblems, prop: string, registry: unknown): void {
  if (typeof registry !== 'object' || registry === null || !Array.isArray((registry as { tables?: unknown }).tables)) {
    problems.add(prop, 'must be an object with a "tables" array (the content of rekey.config.json)');
    return;
  }
  const tables = (registry as { tables: unknown[] }).tables;
  if (tables.length === 0) problems.add(`${prop}.tables`, 'must name at least one table');
  tables.forEach((table, i) => {
    const at = `${prop}.tables[${i}]`;
    if (typeof table !== 'object' || table === null) {
      problems.add(at, 'must be an object');
      return;
    }
    const t = table as Record<string, unknown>;
    for (const key of ['name', 'idColumn'] as const) {
      if (typeof t[key] !== 'string' || !IDENTIFIER.test(t[key] as string))
        problems.add(`${at}.${key}`, 'must be a SQL identifier');
    }
    if (t.schema !== undefined && (typeof t.schema !== 'string' || !IDENTIFIER.test(t.schema))) {
      problems.add(`${at}.schema`, 'must be a SQL identifier');
    }
    if (t.format !== undefined && !(VALUE_FORMATS as readonly unknown[]).includes(t.format)) {
      problems.add(`${at}.format`, `must be one of ${VALUE_FORMATS.join(', ')}`);
    }
    if (!Array.isArray(t.columns) || t.columns.length === 0) {
      problems.add(`${at}.columns`, 'must list at least one column');
    } else {
      t.columns.forEach((c, j) => {
        if (typeof c !== 'string' || !IDENTIFIER.test(c))
          problems.add(`${at}.columns[${j}]`, 'must be a SQL identifier');
      });
    }
  });
  const bytes = Buffer.byteLength(JSON.stringify(registry));
  if (bytes > REGISTRY_MAX_BYTES) {
    problems.add(
      prop,
      `is ${bytes} bytes as JSON; it travels in the Lambda environment (4 KB in all), so at most ${REGISTRY_MAX_BYTES} bytes`,
    );
  }
}
