/**
 * The narrow slice of AWS KMS that rekey uses: data keys for the kms keyring,
 * KEK wrapping for the hierarchical keyset, and ReEncrypt so a rewrap never
 * brings a data key out of KMS. `adapters/aws-kms.ts` implements it over
 * @aws-sdk/client-kms; tests may pass a fake.
 *
 * `keyId` is anything KMS accepts as a key identifier: key id, key ARN, alias
 * name (`alias/...`) or alias ARN. Decrypt and ReEncrypt always pin the key,
 * so a ciphertext made under another KMS key is refused rather than decrypted.
 *
 * Errors (adapters map the SDK's): KeyringUnavailableError (retryable:
 * throttling, 5xx, network), AuthenticationError('data-key') (the ciphertext
 * or encryption context does not match), KeyServiceAccessDeniedError,
 * KeyServiceNotFoundError, KeyServiceRejectedError (not retryable; the
 * message names the key, the operation and the permission to grant).
 */
export type KmsEncryptionContext = Readonly<Record<string, string>>;

export interface KmsGenerateDataKeyInput {
  readonly keyId: string;
  readonly context: KmsEncryptionContext;
}

export interface KmsDataKey {
  /** 32-byte plaintext data key. The caller zeroes it after use. */
  readonly plaintext: Buffer;
  readonly ciphertextBlob: Buffer;
}

export interface KmsDecryptInput {
  readonly ciphertextBlob: Buffer;
  readonly keyId: string;
  readonly context: KmsEncryptionContext;
}

export interface KmsReEncryptInput {
  readonly ciphertextBlob: Buffer;
  readonly sourceKeyId: string;
  readonly sourceContext: KmsEncryptionContext;
  readonly destinationKeyId: string;
  readonly destinationContext: KmsEncryptionContext;
}

export interface KmsEncryptInput {
  readonly keyId: string;
  /** At most 4096 bytes (a KMS limit); rekey only encrypts 32-byte KEKs. */
  readonly plaintext: Buffer;
  readonly context: KmsEncryptionContext;
}

export interface KmsPort {
  /** A fresh AES-256 data key, plaintext and wrapped under `keyId` with `context`. */
  generateDataKey(input: KmsGenerateDataKeyInput): Promise<KmsDataKey>;
  /** The plaintext of a ciphertext made under `keyId` with exactly `context`. */
  decrypt(input: KmsDecryptInput): Promise<Buffer>;
  /** The same plaintext wrapped under the destination key and context, without it leaving KMS. */
  reEncrypt(input: KmsReEncryptInput): Promise<Buffer>;
  /** `plaintext` wrapped under `keyId` with `context`. */
  encrypt(input: KmsEncryptInput): Promise<Buffer>;
}
