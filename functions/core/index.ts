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
export { StaticKeyPolicy, KEY_STATUSES } from './keys/policy';
export type { KeyPolicy, KeyState, KeyStatus } from './keys/policy';
export type { LegacyReader, LegacyFormat } from './crypto/legacy/reader';

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
  KeyMaterialError,
  LegacyFormatError,
  KeyringUnavailableError,
  InvalidContextError,
  InvalidPlaintextError,
  PlaintextEncodingError,
} from './crypto/errors';
