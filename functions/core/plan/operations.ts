import type { Mode } from '../reencrypt/values/modes';
import type { KeyringKind } from '../crypto/keyring';
import { UNKNOWN_FERNET_KEY } from '../crypto/legacy/fernet';

/**
 * What happens to each value a job touches, and what each costs in key
 * service calls, from the keyrings' own behaviour (functions/core/crypto/keyrings):
 * - raw: KEKs in memory, no call at all;
 * - hierarchical: one GetSecretValue and one KMS Decrypt per KEK of the keyset
 *   per worker load (cold start, then every cache TTL), nothing per value;
 * - kms: rewrap = one ReEncrypt; reencrypt = Decrypt + GenerateDataKey;
 *   encrypt and migrate = one GenerateDataKey (legacy values are read with
 *   local keys) — per value.
 */
export const OPERATIONS = ['rewrap', 'reencrypt', 'encrypt', 'migrate'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Values per operation, and values the mode cannot move (they end as row errors). */
export type OperationCounts = Readonly<Record<Operation, number>> & { readonly failing: number };

export const KMS_CALLS_PER_VALUE: Readonly<Record<Operation, number>> = {
  rewrap: 1,
  reencrypt: 2,
  encrypt: 1,
  migrate: 1,
};

/** Stored values of one table as the inventory counts them (verify.ts ValueCounts). */
export interface InventoryCounts {
  readonly envelopes: Readonly<Record<string, number>>;
  readonly fernet: number;
  readonly jsonKeyId: Readonly<Record<string, number>>;
  readonly plaintext: number;
  /** encrypt mode: rows whose plaintext source column still waits. */
  readonly plaintextSources: number;
}

/**
 * A table rotated in its own format (`"format": "fernet"` / `"json-key-id"`,
 * docs/legacy-formats.md): the verify report's format and, for Fernet, the
 * Fernet key its tokens should be under.
 */
export interface InPlaceTable {
  readonly format: 'fernet' | 'json-key-id';
  /** The key done values are under: the primary Fernet key's catalog id, or the primary KEK. */
  readonly targetKeyId: string;
  /** Fernet tokens per key catalog id (verify's fernetByKey). */
  readonly fernetByKey?: Readonly<Record<string, number>> | undefined;
}

export function noOperations(): OperationCounts {
  return { rewrap: 0, reencrypt: 0, encrypt: 0, migrate: 0, failing: 0 };
}

/**
 * Values per operation in `mode`, as the batch transform treats them: an
 * envelope under another key is re-encrypted in `reencrypt` mode and
 * rewrapped in every other; plaintext is encrypted only in `encrypt` mode and
 * legacy values migrated only in `migrate` mode — elsewhere they fail
 * (UNEXPECTED_PLAINTEXT, LEGACY_VALUE).
 */
export function operationsFor(
  mode: Mode,
  counts: InventoryCounts,
  targetKeyId: string,
  inPlace?: InPlaceTable,
): OperationCounts {
  if (inPlace && mode !== 'migrate') return inPlaceOperations(mode, counts, inPlace);
  const moving = Object.entries(counts.envelopes).reduce((a, [k, n]) => a + (k === targetKeyId ? 0 : n), 0);
  const legacy = counts.fernet + Object.values(counts.jsonKeyId).reduce((a, n) => a + n, 0);
  const plaintext = counts.plaintext + (mode === 'encrypt' ? counts.plaintextSources : 0);
  return {
    rewrap: mode === 'reencrypt' ? 0 : moving,
    reencrypt: mode === 'reencrypt' ? moving : 0,
    encrypt: mode === 'encrypt' ? plaintext : 0,
    migrate: mode === 'migrate' ? legacy : 0,
    failing: (mode === 'migrate' ? 0 : legacy) + (mode === 'encrypt' ? 0 : counts.plaintext),
  };
}

/**
 * In-place rotation, as the batch transform does it: a value of the table's
 * format not under the target key is decrypted and re-encrypted in that
 * format (no rewrap shortcut exists there), counted as `reencrypt`; one under
 * no configured key (`(unknown fernet key)`, a JSON value naming no key)
 * fails, as do values of another format (FOREIGN_FORMAT) and plaintext
 * outside encrypt mode. The keys are local (Fernet keys, the raw KEKs): with
 * the kms keyring the KMS count of these values is an over-estimate.
 */
function inPlaceOperations(mode: Mode, counts: InventoryCounts, table: InPlaceTable): OperationCounts {
  const own = table.format === 'fernet' ? (table.fernetByKey ?? {}) : counts.jsonKeyId;
  // verify's labels for values no configured key can be named for.
  const unattributed = table.format === 'fernet' ? UNKNOWN_FERNET_KEY : '(none)';
  let moving = 0;
  let failing = 0;
  for (const [k, n] of Object.entries(own)) {
    if (k === unattributed) failing += n;
    else if (k !== table.targetKeyId) moving += n;
  }
  const envelopes = Object.values(counts.envelopes).reduce((a, n) => a + n, 0);
  const foreign =
    envelopes +
    (table.format === 'fernet' ? Object.values(counts.jsonKeyId).reduce((a, n) => a + n, 0) : counts.fernet);
  return {
    ...noOperations(),
    reencrypt: moving,
    encrypt: mode === 'encrypt' ? counts.plaintext + counts.plaintextSources : 0,
    failing: failing + foreign + (mode === 'encrypt' ? 0 : counts.plaintext),
  };
}

/** Without an inventory: every pending row counted as one value of the mode's own operation. */
export function operationsOfPendingRows(mode: Mode, rowsPending: number): OperationCounts {
  const op: Operation =
    mode === 'reencrypt' ? 'reencrypt' : mode === 'encrypt' ? 'encrypt' : mode === 'migrate' ? 'migrate' : 'rewrap';
  return { ...noOperations(), [op]: rowsPending };
}

export function addOperations(a: OperationCounts, b: OperationCounts): OperationCounts {
  return {
    rewrap: a.rewrap + b.rewrap,
    reencrypt: a.reencrypt + b.reencrypt,
    encrypt: a.encrypt + b.encrypt,
    migrate: a.migrate + b.migrate,
    failing: a.failing + b.failing,
  };
}

/** KMS calls made per value by the kms keyring; the other keyrings make none per value. */
export function perValueKmsCalls(keyring: KeyringKind, ops: OperationCounts): number {
  if (keyring !== 'kms') return 0;
  return OPERATIONS.reduce((a, op) => a + ops[op] * KMS_CALLS_PER_VALUE[op], 0);
}

/** Values that will change (failing ones excluded). */
export function valuesMoving(ops: OperationCounts): number {
  return OPERATIONS.reduce((a, op) => a + ops[op], 0);
}
