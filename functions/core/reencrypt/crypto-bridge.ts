import type { EnvelopeCipher } from '../crypto/envelope-cipher';
import type { BlindIndex } from '../crypto/blind-index';
import { isEnvelope } from '../crypto/envelope';
import { LegacyFormatError } from '../crypto/errors';
import { classifyValue } from '../crypto/legacy/classify';
import type { LegacyReader } from '../crypto/legacy/reader';
import type { BlindIndexer, LegacyKind, StoredValue, ValueClass, ValueCrypto } from './ports';

/**
 * The engine's ValueCrypto over rekey's real crypto: the EnvelopeCipher for
 * envelopes, legacy readers (FernetReader, JsonKeyIdReader) for legacy
 * values. Classification reads headers only: the envelope's key id, or which
 * legacy reader recognises the value; anything else is plaintext.
 */
export interface ValueCryptoOptions {
  readonly cipher: EnvelopeCipher;
  /** Readers for legacy values, tried in order (a plaintext reader, if given, is ignored: plaintext is the fallback). */
  readonly legacyReaders?: readonly LegacyReader[] | undefined;
}

/** Key id reported for a value that claims to be an envelope but whose header cannot be read. */
export const UNREADABLE_KEY_ID = '(unreadable)';

/**
 * classifyValue (crypto/legacy/classify.ts), with one difference the engine
 * needs: a value shaped like an envelope whose header does not parse stays an
 * envelope (key id UNREADABLE_KEY_ID), so working on it records an envelope
 * error — it must never be taken for plaintext and encrypted a second time.
 */
export function classifyStoredValue(value: StoredValue | null, readers: readonly LegacyReader[] = []): ValueClass {
  const cls = classifyValue(value, readers);
  if (cls.kind === 'plaintext' && value !== null && isEnvelope(value)) return { kind: 'envelope', keyId: UNREADABLE_KEY_ID };
  return cls;
}

/** The engine's BlindIndexer over rekey's BlindIndex (`<key id>:<hex>` text; bytes of that text for a bytea column). */
export function blindIndexerFrom(index: Pick<BlindIndex, 'index' | 'isCurrent'>): BlindIndexer {
  return {
    index: (plaintext, where, form) => {
      const text = index.index(plaintext, { table: where.table, column: where.column });
      return form === 'text' ? text : Buffer.from(text, 'utf8');
    },
    isCurrent: (stored) => index.isCurrent(typeof stored === 'string' ? stored : stored.toString('utf8')),
  };
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
