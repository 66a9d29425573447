import { RekeyError } from '../errors';

/**
 * Base of every error the crypto module raises. None of them is retryable
 * except KeyringUnavailableError (KMS/Secrets Manager throttling or outage):
 * a value that fails to parse or authenticate fails the same way every time.
 * Messages never include plaintext, data keys or KEKs.
 */
export abstract class CryptoError extends RekeyError {}

/** What is wrong with a value that is not an envelope. */
export type EnvelopeFormatReason =
  'empty' | 'truncated' | 'not-base64' | 'bad-prefix' | 'trailing-bytes' | 'bad-field' | 'bad-type';

/** The value is not an envelope at all, or is cut short, or has trailing bytes. */
export class EnvelopeFormatError extends CryptoError {
  readonly code = 'ENVELOPE_FORMAT';
  constructor(
    readonly reason: EnvelopeFormatReason,
    message: string,
  ) {
    super(message);
  }
}

/** The version byte names a format this code does not know. */
export class UnsupportedVersionError extends CryptoError {
  readonly code = 'ENVELOPE_VERSION';
  constructor(readonly version: number) {
    super(`unsupported envelope format version ${version} (this build reads version 1)`);
  }
}

/** The value is larger than the documented limit. */
export class OversizeError extends CryptoError {
  readonly code = 'VALUE_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'plaintext',
  ) {
    super(`${what} is ${size} bytes; the limit is ${limit} bytes`);
  }
}

/**
 * Authentication failed: the envelope was tampered with (header, nonce,
 * wrapped key, ciphertext or tag), or it is being decrypted with the wrong
 * encryption context (another row, column, table or tenant).
 */
export class AuthenticationError extends CryptoError {
  readonly code = 'AUTHENTICATION_FAILED';
  constructor(
    /** Which part failed to authenticate: 'data-key' or 'ciphertext'. */
    readonly part: 'data-key' | 'ciphertext',
    options?: { cause?: unknown },
  ) {
    super(
      part === 'data-key'
        ? 'the wrapped data key did not authenticate: key id, wrapped key or encryption context do not match'
        : 'the ciphertext did not authenticate: nonce, ciphertext, tag or encryption context were altered',
      options,
    );
  }
}

/** No key with this id is known to the keyring or catalog. */
export class UnknownKeyError extends CryptoError {
  readonly code = 'UNKNOWN_KEY';
  constructor(readonly keyId: string) {
    super(`unknown key id ${JSON.stringify(keyId)}: it is not in the keyring or the catalog`);
  }
}

/** The key was destroyed: nothing ever decrypts under it again. */
export class KeyDestroyedError extends CryptoError {
  readonly code = 'KEY_DESTROYED';
  constructor(readonly keyId: string) {
    super(`key ${JSON.stringify(keyId)} is destroyed: values under it can no longer be decrypted`);
  }
}

/** Encryption was asked under a key that is not active (pending, rotating, retired, destroyed). */
export class KeyNotActiveError extends CryptoError {
  readonly code = 'KEY_NOT_ACTIVE';
  constructor(
    readonly keyId: string,
    readonly status: string,
  ) {
    super(`key ${JSON.stringify(keyId)} is ${status}: only an active key may encrypt`);
  }
}

/** Encryption was asked under a key outside the value's tenant scope: destroying a tenant's key must shred exactly that tenant's values. */
export class KeyScopeError extends CryptoError {
  readonly code = 'KEY_SCOPE';
  constructor(
    readonly keyId: string,
    readonly keyTenant: string | null,
    readonly tenant: string | null,
    readonly tenantKeyId?: string,
  ) {
    super(
      tenantKeyId !== undefined
        ? `tenant ${JSON.stringify(tenant)} has its own active key ${JSON.stringify(tenantKeyId)}: its values cannot be encrypted under ${JSON.stringify(keyId)}`
        : `key ${JSON.stringify(keyId)} belongs to tenant ${JSON.stringify(keyTenant)}: a value of ` +
            `${tenant === null ? 'the global scope' : `tenant ${JSON.stringify(tenant)}`} cannot be encrypted under it`,
    );
  }
}

/** Key material given to a keyring is malformed (bad base64, wrong length, duplicate id). */
export class KeyMaterialError extends CryptoError {
  readonly code = 'KEY_MATERIAL';
}

/** A legacy token (Fernet, JSON key_id envelope) could not be read. */
export class LegacyFormatError extends CryptoError {
  readonly code = 'LEGACY_FORMAT';
}

/** KMS or Secrets Manager failed in a way that may pass (throttling, network, 5xx). */
export class KeyringUnavailableError extends CryptoError {
  readonly code = 'KEYRING_UNAVAILABLE';
  override readonly retryable = true;
}

/**
 * The encryption context is malformed: a field missing, not a string, empty,
 * not well-formed Unicode or longer than the encoding allows. Names the field,
 * never its value.
 */
export class InvalidContextError extends CryptoError {
  readonly code = 'INVALID_CONTEXT';
  constructor(
    /** The offending field: 'table' | 'column' | 'rowId' | 'tenant', or 'context' for the whole object. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A value decrypted as text is not valid UTF-8 (it was stored as bytes): read it with the bytes call instead. */
export class PlaintextEncodingError extends CryptoError {
  readonly code = 'PLAINTEXT_NOT_UTF8';
}

/** The plaintext handed to encrypt is not a string or bytes, or is a string UTF-8 cannot carry faithfully (lone surrogates). */
export class InvalidPlaintextError extends CryptoError {
  readonly code = 'INVALID_PLAINTEXT';
}
