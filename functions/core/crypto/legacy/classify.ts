import { isEnvelope, looksLikeDamagedEnvelope, peekKeyId } from '../envelope';
import { looksLikeFernet } from './fernet';
import { jsonKeyIdOf, looksLikeDamagedJsonKeyId } from './json-key-id';
import type { LegacyReader } from './reader';

/** Key id reported for a value shaped like an envelope whose header cannot be read. */
export const UNREADABLE_KEY_ID = '(unreadable)';

export type ValueClassification =
  | { readonly kind: 'null' }
  | { readonly kind: 'envelope'; readonly keyId: string }
  /** keyId: the catalog id of the configured key whose HMAC verifies it (FernetReader.keyIdOf); absent without a Fernet reader. */
  | { readonly kind: 'fernet'; readonly keyId?: string }
  | { readonly kind: 'json-key-id'; readonly keyId: string | undefined }
  | { readonly kind: 'plaintext' };

/**
 * What a stored value is, from its shape alone (no decryption): an rk
 * envelope and its key id, a legacy token, or plaintext. Verify and inventory
 * count rows per class; the engine picks the transform by it.
 *
 * The readers given are asked first, in order (a deployment may add its own
 * recognizer). Fernet and JSON key_id shapes are recognized even when no
 * reader for them is configured: such a value is still a legacy ciphertext,
 * and calling it plaintext would have `encrypt` mode wrap it as if it were
 * the secret. Working on it then fails with an error naming the missing keys.
 */
export function classifyValue(
  value: Buffer | string | null | undefined,
  readers: readonly LegacyReader[] = [],
): ValueClassification {
  if (value === null || value === undefined) return { kind: 'null' };
  if (isEnvelope(value)) {
    try {
      return { kind: 'envelope', keyId: peekKeyId(value) };
    } catch {
      // A damaged envelope stays an envelope: taken for plaintext, encrypt mode would encrypt it a second time.
      return { kind: 'envelope', keyId: UNREADABLE_KEY_ID };
    }
  }
  for (const reader of readers) {
    if (reader.format === 'plaintext') continue;
    if (!reader.recognizes(value)) continue;
    if (reader.format === 'fernet') {
      const keyId = reader.keyIdOf(value);
      return keyId === undefined ? { kind: 'fernet' } : { kind: 'fernet', keyId };
    }
    return { kind: 'json-key-id', keyId: reader.keyIdOf(value) };
  }
  if (looksLikeFernet(value)) return { kind: 'fernet' };
  const keyId = jsonKeyIdOf(value);
  if (keyId !== undefined) return { kind: 'json-key-id', keyId };
  // Damaged ciphertexts stay ciphertexts (their row fails with the parse error), never plaintext to encrypt.
  if (looksLikeDamagedEnvelope(value)) return { kind: 'envelope', keyId: UNREADABLE_KEY_ID };
  if (looksLikeDamagedJsonKeyId(value)) return { kind: 'json-key-id', keyId: undefined };
  return { kind: 'plaintext' };
}
