/**
 * Migration 0005: Fernet keys in the key catalog.
 *
 * A table whose application reads Fernet tokens is rotated to the primary
 * Fernet key (ENCRYPTION_KEY) in place, and its old key (ENCRYPTION_KEY_FALLBACK)
 * is retired only when no token needs it — so Fernet keys get catalog rows
 * with the same lifecycle as KEKs: keyring `fernet`, id `fernet:<16 hex>`
 * (a one-way fingerprint of the key: functions/core/crypto/legacy/fernet.ts
 * fernetKeyId), global scope only.
 *
 * They form a family of their own: the active Fernet key and the active KEK
 * are both active at once, so the one-active-key index now counts per scope
 * AND family. Ids only; no key material is stored.
 */
export const version = 5;
export const name = 'fernet_keys';

export const up = `
ALTER TABLE rekey_keys DROP CONSTRAINT rekey_keys_keyring_check;
ALTER TABLE rekey_keys ADD CONSTRAINT rekey_keys_keyring_check CHECK (keyring IN ('raw', 'kms', 'hierarchical', 'fernet'));
ALTER TABLE rekey_keys ADD CONSTRAINT rekey_keys_fernet_family CHECK ((keyring = 'fernet') = (id LIKE 'fernet:%') AND (keyring <> 'fernet' OR tenant IS NULL));
DROP INDEX rekey_keys_one_active_per_scope;
CREATE UNIQUE INDEX rekey_keys_one_active_per_scope
  ON rekey_keys ((coalesce(tenant, '')), ((keyring = 'fernet'))) WHERE status = 'active';
`;
