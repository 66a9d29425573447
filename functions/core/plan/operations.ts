import type { Mode } from '../reencrypt/modes';
import type { KeyringKind } from '../crypto/keyring';

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

export const KMS_CALLS_PER_VALUE: Readonly<Record<Operation, number>> = { rewrap: 1, reencrypt: 2, encrypt: 1, migrate: 1 };

/** Stored values of one table as the inventory counts them (verify.ts ValueCounts). */
export interface InventoryCounts {
  readonly envelopes: Readonly<Record<string, number>>;
  readonly fernet: number;
  readonly jsonKeyId: Readonly<Record<string, number>>;
  readonly plaintext: number;
  /** encrypt mode: rows whose plaintext source column still waits. */
  readonly plaintextSources: number;
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
export function operationsFor(mode: Mode, counts: InventoryCounts, targetKeyId: string): OperationCounts {
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

/** Without an inventory: every pending row counted as one value of the mode's own operation. */
export function operationsOfPendingRows(mode: Mode, rowsPending: number): OperationCounts {
  const op: Operation = mode === 'reencrypt' ? 'reencrypt' : mode === 'encrypt' ? 'encrypt' : mode === 'migrate' ? 'migrate' : 'rewrap';
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
