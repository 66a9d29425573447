import type { Sql } from '../ports/sql';

/**
 * The trial's example table: what `cdk deploy -c rekey:trial=true` registers
 * (lib/app.ts EXAMPLE_REGISTRY) and what a trial database gets, with a few
 * plaintext addresses for a first `encrypt` execution to protect. Never
 * created outside a trial (the functions do it only when REKEY_TRIAL_EXAMPLE_TABLE
 * is set, which only the trial stack sets).
 */
export const EXAMPLE_TABLE = {
  name: 'users',
  idColumn: 'id',
  column: 'email_encrypted',
  keyIdColumn: 'email_key_id',
  /** Plaintext rows seeded when the table is created. */
  seedRows: 100,
} as const;

/**
 * Creates the example table and its seed rows if missing. Idempotent and
 * safe to run concurrently (IF NOT EXISTS, ON CONFLICT DO NOTHING), one
 * statement each, nothing that relies on session state (Data API).
 */
export async function ensureExampleTable(sql: Sql): Promise<void> {
  const t = EXAMPLE_TABLE;
  await sql.query(
    `CREATE TABLE IF NOT EXISTS ${t.name} (${t.idColumn} bigint PRIMARY KEY, ${t.column} text, ${t.keyIdColumn} text)`,
  );
  await sql.query(
    `INSERT INTO ${t.name} (${t.idColumn}, ${t.column}) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, ${t.seedRows}) AS g ON CONFLICT (${t.idColumn}) DO NOTHING`,
  );
}
