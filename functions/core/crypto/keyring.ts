import type { KeyringKind } from '../keyring-kinds';
import type { EncryptionContext } from './context';

export type { KeyringKind };

/**
 * What a keyring binds a data key to. `aad` is the canonical encoding of the
 * envelope format version, key id and encryption context (see envelope.ts):
 * local keyrings (raw, hierarchical) use it as AES-GCM additional data when
 * wrapping; the kms keyring sends `context` as the KMS encryption context.
 */
export interface WrapContext {
  readonly formatVersion: number;
  readonly context: EncryptionContext;
  readonly aad: Buffer;
}

export interface GeneratedDataKey {
  readonly keyId: string;
  /** Plaintext data key (32 bytes). The caller zeroes it after use. */
  readonly plaintext: Buffer;
  readonly wrapped: Buffer;
}

/** Calls made to remote key services, for tests and benchmarks. */
export interface KeyringStats {
  kmsCalls: number;
  secretsManagerCalls: number;
}

/**
 * Wraps and unwraps per-value data keys under key-encryption keys. Three
 * implementations: raw (KEKs from the environment), hierarchical (a KMS-wrapped
 * keyset in Secrets Manager, cached) and kms (data key per value from KMS).
 *
 * A keyring knows which keys exist and which is primary; whether a key may be
 * used (active, retired, destroyed) is the KeyPolicy's call, not the keyring's.
 */
export interface Keyring {
  readonly kind: KeyringKind;
  /** Every key id this keyring can unwrap, primary first. */
  keyIds(): Promise<readonly string[]>;
  primaryKeyId(): Promise<string>;
  /** A fresh random 256-bit data key wrapped under `keyId`. */
  generateDataKey(keyId: string, wrapContext: WrapContext): Promise<GeneratedDataKey>;
  /** The plaintext data key. Throws AuthenticationError when it does not authenticate, UnknownKeyError for an unknown id. */
  unwrapDataKey(keyId: string, wrapped: Buffer, wrapContext: WrapContext): Promise<Buffer>;
  /**
   * The data key re-wrapped under `targetKeyId`. `targetContext` carries the
   * target key id in its aad. The kms keyring does this with kms:ReEncrypt so
   * the plaintext data key never leaves KMS.
   */
  rewrapDataKey(
    keyId: string,
    wrapped: Buffer,
    wrapContext: WrapContext,
    targetKeyId: string,
    targetContext: WrapContext,
  ): Promise<Buffer>;
  /** Forget cached key material (hierarchical keyring: refetch the keyset on next use). */
  refresh(): Promise<void>;
  stats(): KeyringStats;
}

/**
 * The parameters of Keyring.rewrapDataKey, named once (in the interface) for
 * its implementations: `rewrapDataKey(...[keyId, wrapped, ...]: RewrapArgs)`.
 */
export type RewrapArgs = Parameters<Keyring['rewrapDataKey']>;
