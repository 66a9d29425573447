import { UNKNOWN_FERNET_KEY } from '../../crypto/legacy/fernet';
import { isFernetKeyId } from '../../keys/policy';

/** Values per key id, as a verify report counts them (`VerifyReport.keys`). */
export interface KeyCounts {
  readonly keys: Readonly<Record<string, number>>;
}

/** Values still under `keyId` in a report (envelopes, JSON key_id values, Fernet tokens by key). */
export function valuesUnderKey(report: KeyCounts, keyId: string): number {
  return report.keys[keyId] ?? 0;
}

/**
 * Values that may still need `keyId` — what the retire and destroy gates
 * count. For a Fernet key that includes every token no configured key
 * verifies: such a token cannot be attributed, so no Fernet key is retired
 * or destroyed while one exists (docs/decisions.md).
 */
export function valuesNeedingKey(report: KeyCounts, keyId: string): number {
  return valuesUnderKey(report, keyId) + (isFernetKeyId(keyId) ? valuesUnderKey(report, UNKNOWN_FERNET_KEY) : 0);
}
