import type { Sql } from '../../ports/sql';
import { qualifiedName } from '../sql/identifiers';
import { tableKey, type Registry, type RegistryTable } from './registry';

/**
 * The tables rekey has been configured with or worked on
 * (`rekey_known_tables`, migration 0003). A key's values may sit in a table
 * that today's config no longer lists — a narrower config file, a `-t` run —
 * so retiring or destroying a key counts its values over the union of the
 * current registry and every remembered table that still exists.
 */

/** Records (or refreshes) the registry's tables. Idempotent; one statement. */
export async function rememberTables(sql: Sql, tables: readonly RegistryTable[]): Promise<void> {
  if (tables.length === 0) return;
  await sql.query(
    `INSERT INTO rekey_known_tables (table_key, config)
     SELECT k, c::jsonb FROM unnest($1::text[], $2::text[]) AS v(k, c)
     ON CONFLICT (table_key) DO UPDATE SET config = EXCLUDED.config, last_seen = now()`,
    [tables.map(tableKey), tables.map((t) => JSON.stringify(t))],
  );
}

export interface Coverage {
  /** The current registry's tables, then every remembered table it does not list and that still exists. */
  readonly registry: Registry;
  /** Remembered tables the current registry does not list (their values count too). */
  readonly remembered: readonly string[];
  /** Remembered tables that no longer exist in the database (skipped). */
  readonly gone: readonly string[];
}

/** The tables whose values a retire or destroy must count: the current registry plus the remembered ones. */
export async function coverage(sql: Sql, registry: Registry): Promise<Coverage> {
  const current = new Set(registry.tables.map(tableKey));
  const { rows } = await sql.query<{ table_key: string; config: unknown }>(
    'SELECT table_key, config FROM rekey_known_tables ORDER BY table_key',
  );
  const extra: RegistryTable[] = [];
  const gone: string[] = [];
  for (const row of rows) {
    if (current.has(row.table_key)) continue;
    const table = asTable(row.config);
    if (!table) continue; // not written by this rekey: nothing it could count
    const exists = await sql.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
      qualifiedName(table),
    ]);
    if (exists.rows[0]?.present) extra.push(table);
    else gone.push(row.table_key);
  }
  return { registry: { tables: [...registry.tables, ...extra] }, remembered: extra.map(tableKey), gone };
}

/** A stored registry entry (jsonb: parsed by node-postgres, text from the Data API), checked for the fields verify reads. */
function asTable(config: unknown): RegistryTable | undefined {
  const value = typeof config === 'string' ? (JSON.parse(config) as unknown) : config;
  if (typeof value !== 'object' || value === null) return undefined;
  const t = value as Partial<RegistryTable>;
  const names = (xs: unknown): boolean => Array.isArray(xs) && xs.length > 0 && xs.every((x) => typeof x === 'string');
  if (typeof t.name !== 'string' || typeof t.idColumn !== 'string' || !names(t.columns)) return undefined;
  return { ...t, blindIndex: t.blindIndex ?? {}, encrypt: Array.isArray(t.encrypt) ? t.encrypt : [] } as RegistryTable;
}
