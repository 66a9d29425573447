import type { Sql } from '../ports/sql';
import type { KeyStatus } from '../crypto/key-policy';
import type { CatalogKeyringKind } from '../keyring-kinds';
import { KeyAlreadyExistsError, KeyChangedConcurrentlyError } from './errors';

/**
 * The `rekey_keys` table as the catalog reads it: the row shape, the one
 * SELECT, the row → CatalogKey mapping, and the database's refusals
 * (unique violations) translated into the catalog's errors.
 */

export interface CatalogKey {
  readonly id: string;
  readonly keyring: CatalogKeyringKind;
  readonly kmsKeyArn: string | null;
  readonly tenant: string | null;
  readonly status: KeyStatus;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly rotatedAt: Date | null;
  readonly retiredAt: Date | null;
  readonly destroyedAt: Date | null;
  readonly updatedAt: Date;
}

/** Timestamp column stamped when a key enters a status. */
export const STAMP: Partial<Record<KeyStatus, string>> = {
  active: 'activated_at',
  rotating: 'rotated_at',
  retired: 'retired_at',
  destroyed: 'destroyed_at',
};

export const SELECT_KEYS =
  'SELECT id, keyring, kms_key_arn, tenant, status, created_at, activated_at, rotated_at, retired_at, destroyed_at, updated_at FROM rekey_keys';

export function translateConflict(err: unknown, id: string, status: KeyStatus): unknown {
  if (sqlStateOf(err) !== '23505') return err;
  // The primary key: a concurrent add of the same id committed between our check and our insert.
  if (/rekey_keys_pkey/.test(err instanceof Error ? err.message : '')) return new KeyAlreadyExistsError(id);
  // Otherwise the one-active-key-per-scope index refused a second active key (a concurrent activate won).
  return new KeyChangedConcurrentlyError(id, status);
}

function sqlStateOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const o = e as { sqlState?: unknown; code?: unknown };
    if (typeof o.sqlState === 'string') return o.sqlState;
    if (typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code)) return o.code;
  }
  return undefined;
}

export interface KeyRow {
  id: string;
  keyring: CatalogKeyringKind;
  kms_key_arn: string | null;
  tenant: string | null;
  status: KeyStatus;
  created_at: Date | string;
  activated_at: Date | string | null;
  rotated_at: Date | string | null;
  retired_at: Date | string | null;
  destroyed_at: Date | string | null;
  updated_at: Date | string;
}

export async function getKey(sql: Sql, id: string, forUpdate = false): Promise<CatalogKey | undefined> {
  const { rows } = await sql.query<KeyRow>(`${SELECT_KEYS} WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? keyFromRow(rows[0]) : undefined;
}

export function keyFromRow(r: KeyRow): CatalogKey {
  return {
    id: r.id,
    keyring: r.keyring,
    kmsKeyArn: r.kms_key_arn,
    tenant: r.tenant,
    status: r.status,
    createdAt: toDate(r.created_at)!,
    activatedAt: toDate(r.activated_at),
    rotatedAt: toDate(r.rotated_at),
    retiredAt: toDate(r.retired_at),
    destroyedAt: toDate(r.destroyed_at),
    updatedAt: toDate(r.updated_at)!,
  };
}

function toDate(v: Date | string | null): Date | null {
  if (v === null) return null;
  return v instanceof Date ? v : new Date(v);
}
