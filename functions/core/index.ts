/**
 * rekey's application API: what an application imports to encrypt and decrypt
 * fields. Start with createFieldEncryption (field-encryption.ts); the rest is
 * here for tools and for applications that need the lower layers.
 *
 * Example: examples/app-field-encryption.ts (`npx tsx examples/app-field-encryption.ts`).
 */

// The application calls.
export { createFieldEncryption, FieldEncryption } from './field-encryption';
export type { FieldEncryptionOptions, StoredValueKind } from './field-encryption';
export type { EncryptionContext } from './crypto/context';

// Keyrings and key policy.
export { RawKeyring, formatRawKey, RAW_KEY_ENV } from './crypto/keyrings/raw';
export type { RawKey } from './crypto/keyrings/raw';
export type { Keyring, KeyringKind, KeyringStats, WrapContext, GeneratedDataKey } from './crypto/keyring';
export { StaticKeyPolicy, KEY_STATUSES } from './crypto/key-policy';
export type { KeyPolicy, KeyState, KeyStatus } from './crypto/key-policy';
export { HierarchicalKeyring } from './crypto/keyrings/hierarchical';
export type { HierarchicalKeyringOptions } from './crypto/keyrings/hierarchical';
export { KmsKeyring } from './crypto/keyrings/kms';
export type { KmsKeyringOptions, KmsKeyMapping } from './crypto/keyrings/kms';
export type { KmsPort } from './ports/kms';
export type { SecretsPort } from './ports/secrets';

// Legacy formats (read while migrating) and the blind index.
export type { LegacyReader, LegacyFormat } from './crypto/legacy/reader';
export { FernetReader } from './crypto/legacy/fernet';
export { JsonKeyIdReader } from './crypto/legacy/json-key-id';
export { PlaintextReader } from './crypto/legacy/plaintext';
export { BlindIndex } from './crypto/blind-index';
export type { BlindIndexColumn, BlindIndexOptions } from './crypto/blind-index';

// The key catalog (PostgreSQL) through the Sql port.
export { KeyCatalog } from './keys/catalog';
export type { CatalogKey } from './keys/catalog-rows';
export type { NewCatalogKey } from './keys/new-key';
export type { Sql, SqlPool } from './ports/sql';

// The envelope layer.
export { EnvelopeCipher, DEFAULT_MAX_PLAINTEXT_BYTES } from './crypto/envelope-cipher';
export type { EnvelopeCipherOptions, EncryptOptions } from './crypto/envelope-cipher';
export {
  ENVELOPE_V1,
  TEXT_PREFIX_V1,
  parseEnvelope,
  serializeEnvelope,
  toText,
  fromText,
  isEnvelope,
  peekKeyId,
} from './crypto/envelope';
export type { EnvelopeV1 } from './crypto/envelope';

// Errors: every one a RekeyError with a stable `code` and a `retryable` flag.
export { RekeyError, isRetryable } from './errors';
export {
  CryptoError,
  EnvelopeFormatError,
  UnsupportedVersionError,
  OversizeError,
  AuthenticationError,
  UnknownKeyError,
  KeyDestroyedError,
  KeyNotActiveError,
  KeyScopeError,
  KeyMaterialError,
  LegacyFormatError,
  KeyringUnavailableError,
  InvalidContextError,
  InvalidPlaintextError,
  PlaintextEncodingError,
} from './crypto/errors';
