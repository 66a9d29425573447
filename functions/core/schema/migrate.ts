import { createHash } from 'node:crypto';
import type { Sql } from '../ports/sql';
import { MigrationChecksumError, MigrationListError, SchemaNotMigratedError, SchemaTooNewError } from './errors';
import type { Migration } from './migration';
import { MIGRATIONS } from './migrations';
import { splitStatements } from './split-statements';

/** Serializes concurrent `migrate` calls (two workers starting at once). Arbitrary constant, rekey's own. */
const MIGRATION_LOCK_ID = 7_301_845_210;

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS rekey_schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
)`;

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: Date;
}

export interface SchemaStatus {
  /** Highest version applied to the database (0 when none). */
  readonly databaseVersion: number;
  /** Highest version this build ships. */
  readonly codeVersion: number;
  readonly applied: readonly AppliedMigration[];
  /** Versions this build ships that the database does not have yet. */
  readonly pending: readonly { readonly version: number; readonly name: string }[];
}

export interface MigrateResult {
  readonly applied: readonly { readonly version: number; readonly name: string }[];
  readonly status: SchemaStatus;
}

export function migrationChecksum(migration: Migration): string {
  const text = typeof migration.up === 'string' ? migration.up : migration.up.join(';\n');
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Applies pending migrations in order, each in its own transaction under an
 * advisory lock, recording version, name and checksum. Idempotent: a second
 * run applies nothing. Refuses a database migrated by a newer rekey
 * (SchemaTooNewError) and an applied migration whose SQL changed
 * (MigrationChecksumError), before changing anything.
 */
export async function migrate(
  sql: Sql,
  options: { readonly target?: number; readonly migrations?: readonly Migration[] } = {},
): Promise<MigrateResult> {
  const migrations = checkedList(options.migrations ?? MIGRATIONS);
  const target = options.target ?? lastVersion(migrations);
  await sql.query(CREATE_MIGRATIONS_TABLE).catch(async (err: unknown) => {
    // Two processes racing on CREATE TABLE IF NOT EXISTS can still collide on the catalog; the loser retries once.
    if (!(await tableExists(sql))) throw err;
  });
  const applied: { version: number; name: string }[] = [];
  for (const migration of migrations) {
    if (migration.version > target) break;
    const didApply = await sql.transaction(async (tx) => {
      await tx.query('SELECT 1 AS locked FROM pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
      const done = await readApplied(tx);
      verifyApplied(done, migrations);
      if (done.some((m) => m.version === migration.version)) return false;
      for (const statement of statementsOf(migration)) await tx.query(statement);
      await tx.query('INSERT INTO rekey_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migrationChecksum(migration),
      ]);
      return true;
    });
    if (didApply) applied.push({ version: migration.version, name: migration.name });
  }
  return { applied, status: await schemaStatus(sql, { migrations }) };
}

/** What is applied and what is pending, without changing anything. */
export async function schemaStatus(
  sql: Sql,
  options: { readonly migrations?: readonly Migration[] } = {},
): Promise<SchemaStatus> {
  const migrations = checkedList(options.migrations ?? MIGRATIONS);
  const applied = (await tableExists(sql)) ? await readApplied(sql) : [];
  const have = new Set(applied.map((m) => m.version));
  return {
    databaseVersion: applied.reduce((max, m) => Math.max(max, m.version), 0),
    codeVersion: lastVersion(migrations),
    applied,
    pending: migrations.filter((m) => !have.has(m.version)).map((m) => ({ version: m.version, name: m.name })),
  };
}

/**
 * Throws unless the database is migrated to at least `required` (default: all
 * this build ships) and not past what this build knows. Long-running processes
 * (workers, CLI) call it at start-up instead of migrating implicitly.
 */
export async function assertSchemaCurrent(sql: Sql, required?: number): Promise<SchemaStatus> {
  const status = await schemaStatus(sql);
  if (status.databaseVersion > status.codeVersion)
    throw new SchemaTooNewError(status.databaseVersion, status.codeVersion);
  const need = required ?? status.codeVersion;
  if (status.databaseVersion < need) throw new SchemaNotMigratedError(status.databaseVersion, need);
  return status;
}

function statementsOf(migration: Migration): readonly string[] {
  return typeof migration.up === 'string' ? splitStatements(migration.up) : migration.up;
}

function verifyApplied(done: readonly AppliedMigration[], migrations: readonly Migration[]): void {
  const known = new Map(migrations.map((m) => [m.version, m]));
  const newest = done.reduce((max, m) => Math.max(max, m.version), 0);
  if (newest > lastVersion(migrations)) throw new SchemaTooNewError(newest, lastVersion(migrations));
  for (const row of done) {
    const ours = known.get(row.version);
    if (ours && migrationChecksum(ours) !== row.checksum) throw new MigrationChecksumError(row.version, row.name);
  }
}

async function readApplied(sql: Sql): Promise<AppliedMigration[]> {
  const { rows } = await sql.query<{ version: number; name: string; checksum: string; applied_at: Date | string }>(
    'SELECT version, name, checksum, applied_at FROM rekey_schema_migrations ORDER BY version',
  );
  return rows.map((r) => ({
    version: Number(r.version),
    name: r.name,
    checksum: r.checksum,
    appliedAt: r.applied_at instanceof Date ? r.applied_at : new Date(r.applied_at),
  }));
}

async function tableExists(sql: Sql): Promise<boolean> {
  const { rows } = await sql.query<{ present: boolean }>(
    "SELECT to_regclass('rekey_schema_migrations') IS NOT NULL AS present",
  );
  return rows[0]?.present === true;
}

function lastVersion(migrations: readonly Migration[]): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

function checkedList(migrations: readonly Migration[]): readonly Migration[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new MigrationListError(
        `migration list is out of order: position ${i + 1} holds version ${m.version} (${m.name}); versions must be 1, 2, 3, … with no gaps`,
      );
    }
  });
  return migrations;
}
