import { isEnvelope, peekKeyId } from '../envelope';
import type { LegacyReader } from './reader';

/** Key id reported for a value shaped like an envelope whose header cannot be read. */
export const UNREADABLE_KEY_ID = '(unreadable)';

export type ValueClassification =
  | { readonly kind: 'null' }
  | { readonly kind: 'envelope'; readonly keyId: string }
  | { readonly kind: 'fernet' }
  | { readonly kind: 'json-key-id'; readonly keyId: string | undefined }
  | { readonly kind: 'plaintext' };

/**
 * What a stored value is, from its shape alone (no decryption): an rk
 * envelope and its key id, a legacy token, or plaintext. Verify and inventory
 * count rows per class; the engine picks the transform by it.
 */
export function classifyValue(value: Buffer | string | null | undefined, readers: readonly LegacyReader[] = []): ValueClassification {
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
    if (reader.format === 'fernet') return { kind: 'fernet' };
    return { kind: 'json-key-id', keyId: reader.keyIdOf(value) };
  }
  return { kind: 'plaintext' };
}
