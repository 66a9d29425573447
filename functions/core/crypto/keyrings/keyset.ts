import { CryptoError } from '../errors';
import type { KmsEncryptionContext } from '../../ports/kms';

/**
 * The keyset: every key-encryption key (KEK) version not yet destroyed, each
 * wrapped by one KMS key, the primary marked. It lives as one JSON document
 * in a Secrets Manager secret whose AWSCURRENT version always carries the
 * whole set, so no expiring secret version can lose a key:
 *
 *   { "format": "rekey-keyset", "version": 1, "kmsKeyId": "arn:aws:kms:...",
 *     "primary": "kek-v2",
 *     "keys": [ { "id": "kek-v1", "wrapped": "<base64>", "createdAt": "2025-01-01T00:00:00.000Z" }, ... ] }
 *
 * `wrapped` is the KMS ciphertext of the 32-byte KEK under `kmsKeyId` with
 * the encryption context { purpose: "rekey-kek", keyId: <id> }, so a wrapped
 * KEK copied under another id does not unwrap.
 *
 * This file holds the model (types, errors, the KMS context); the JSON
 * document is read and written by keyset-document.ts, and keysets are
 * created and changed by keyset-changes.ts.
 */
export const KEYSET_FORMAT = 'rekey-keyset';
export const KEYSET_VERSION = 1;
/** Key ids: a letter or digit, then letters, digits, `.`, `_`, `-`; at most 64 characters. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface KeysetKey {
  readonly id: string;
  /** KMS ciphertext of the KEK. */
  readonly wrapped: Buffer;
  /** ISO 8601 timestamp. */
  readonly createdAt: string;
}

export interface Keyset {
  readonly format: typeof KEYSET_FORMAT;
  readonly version: typeof KEYSET_VERSION;
  /** The KMS key (id, ARN or alias) every KEK is wrapped under. */
  readonly kmsKeyId: string;
  readonly primary: string;
  /** In the order they were added. */
  readonly keys: readonly KeysetKey[];
}

/** Base of the keyset module's errors. */
export abstract class KeysetError extends CryptoError {}

/** The keyset document is malformed; `problems` lists every one found, each with its path. */
export class KeysetFormatError extends KeysetError {
  readonly code = 'KEYSET_FORMAT';

  constructor(
    readonly problems: readonly string[],
    source?: string,
  ) {
    super(
      `${source === undefined ? 'keyset' : `keyset in ${source}`} is invalid ` +
        `(${problems.length} problem${problems.length === 1 ? '' : 's'}): ${problems.join('; ')}`,
    );
  }
}

/** A change to a keyset that would break it (duplicate id, removing the primary, ...). */
export class KeysetUpdateError extends KeysetError {
  readonly code = 'KEYSET_UPDATE';
}

/** The KMS encryption context a KEK is wrapped with. */
export function kekContext(keyId: string): KmsEncryptionContext {
  return { purpose: 'rekey-kek', keyId };
}
