/**
 * The keyring kinds, in one place: the crypto keyrings, the key catalog, the
 * CLI's `--keyring` choices and the CDK stack's `keyring` prop all import
 * them. Plain values, no imports: safe anywhere (lib/ included).
 */

/** Where the KEKs come from: env/secret material (`raw`), KMS per value (`kms`), or a KMS-wrapped keyset (`hierarchical`). */
export const KEYRING_KINDS = ['raw', 'hierarchical', 'kms'] as const;
export type KeyringKind = (typeof KEYRING_KINDS)[number];

/** The catalog also holds `fernet` keys: a Fernet key of a table whose application reads Fernet tokens (migration 0005; id `fernet:<fingerprint>`). */
export const CATALOG_KEYRING_KINDS = [...KEYRING_KINDS, 'fernet'] as const;
export type CatalogKeyringKind = (typeof CATALOG_KEYRING_KINDS)[number];
