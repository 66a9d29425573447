import type { EnvelopeCipher } from '../crypto/envelope-cipher';
import { isEnvelope, peekKeyId } from '../crypto/envelope';
import { LegacyFormatError } from '../crypto/errors';
import type { LegacyReader } from '../crypto/legacy/reader';
import type { LegacyKind, StoredValue, ValueClass, ValueCrypto } from './ports';

/**
 * The engine's ValueCrypto over rekey's real crypto: the EnvelopeCipher for
 * envelopes, legacy readers for Fernet / JSON key_id values. Classification
 * reads headers only: the envelope's key id, or which legacy reader
 * recognises the value; anything else is plaintext.
 */
export interface ValueCryptoOptions {
  readonly cipher: EnvelopeCipher;
  /** Readers for legacy values, tried in order (a plaintext reader, if given, is ignored: plaintext is the fallback). */
  readonly legacyReaders?: readonly LegacyReader[] | undefined;
}

/** Key id reported for a value that claims to be an envelope but whose header cannot be read. */
export const UNREADABLE_KEY_ID = '(unreadable)';

export function classifyStoredValue(value: StoredValue | null, readers: readonly LegacyReader[] = []): ValueClass {
  if (value === null || value === undefined) return { kind: 'null' };
  if (isEnvelope(value)) {
    try {
      return { kind: 'envelope', keyId: peekKeyId(value) };
    } catch {
      // Looks like an envelope but the header does not parse: still an envelope (a damaged one); working on it records the error.
      return { kind: 'envelope', keyId: UNREADABLE_KEY_ID };
    }
  }
  for (const reader of readers) {
    if (reader.format === 'plaintext' || !reader.recognizes(value)) continue;
    if (reader.format === 'fernet') return { kind: 'fernet' };
    const keyId = reader.keyIdOf(value);
    return keyId === undefined ? { kind: 'json-key-id' } : { kind: 'json-key-id', keyId };
  }
  return { kind: 'plaintext' };
}

export function valueCryptoFrom(options: ValueCryptoOptions): ValueCrypto {
  const { cipher } = options;
  const readers = options.legacyReaders ?? [];
  return {
    classify: (value) => classifyStoredValue(value, readers),
    rewrap: (value, context, target) => cipher.rewrap(value, context, target),
    reencrypt: (value, context, target) => cipher.reencrypt(value, context, target),
    decrypt: (value, context) => cipher.decrypt(value, context),
    encrypt: (plaintext, context, target, form) => cipher.encrypt(plaintext, context, { keyId: target, output: form }),
    decryptLegacy: (value, kind: LegacyKind) => {
      const reader = readers.find((r) => r.format === kind);
      if (!reader) {
        return Promise.reject(new LegacyFormatError(`no reader for ${kind} values is configured (for Fernet: ENCRYPTION_KEY and ENCRYPTION_KEY_FALLBACK)`));
      }
      return reader.decrypt(value);
    },
  };
}
