import type { EnvelopeCipher } from '../../crypto/envelope-cipher';
import type { BlindIndex } from '../../crypto/blind-index';
import { LegacyFormatError } from '../../crypto/errors';
import { FernetReader } from '../../crypto/legacy/fernet';
import { JsonKeyIdReader } from '../../crypto/legacy/json-key-id';
import { classifyValue, UNREADABLE_KEY_ID } from '../../crypto/legacy/classify';
import type { LegacyReader } from '../../crypto/legacy/reader';
import { assertLegacyKeyReadable } from '../../crypto/key-policy';
import type { BlindIndexer, LegacyKind, StoredValue, ValueClass, ValueCrypto } from '../ports';

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

export { UNREADABLE_KEY_ID };

/** What a stored value is, from its shape (crypto/legacy/classify.ts): a damaged envelope stays an envelope. */
export function classifyStoredValue(value: StoredValue | null, readers: readonly LegacyReader[] = []): ValueClass {
  return classifyValue(value, readers) as ValueClass;
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
    decryptLegacy: (value, kind: LegacyKind) => decryptLegacyValue(cipher, readers, value, kind),
    encryptLegacy: (plaintext, kind, target, opts) =>
      encryptLegacyValue(cipher, readers, plaintext, kind, target, opts),
  };
}

/** The plaintext of a legacy value, by the configured reader of its kind, once the catalog lets its key decrypt. */
function decryptLegacyValue(
  cipher: Pick<EnvelopeCipher, 'policy'>,
  readers: readonly LegacyReader[],
  value: StoredValue,
  kind: LegacyKind,
): Promise<Buffer> {
  const reader = readers.find((r) => r.format === kind);
  if (!reader) {
    return Promise.reject(
      new LegacyFormatError(
        `no reader for ${kind} values is configured (for Fernet: ENCRYPTION_KEY and ENCRYPTION_KEY_FALLBACK)`,
      ),
    );
  }
  if (reader instanceof FernetReader) return decryptFernetChecked(cipher, reader, value);
  // A JSON key_id value names a KEK: the catalog decides, as for an envelope (a destroyed key never decrypts).
  const keyId = reader.keyIdOf(value);
  try {
    if (keyId !== undefined) assertLegacyKeyReadable(cipher.policy, keyId);
  } catch (err) {
    return Promise.reject(err as Error);
  }
  return reader.decrypt(value);
}

/**
 * A Fernet token's plaintext in one pass: the key whose HMAC verified is known
 * only after decrypting; the catalog decides before the plaintext is returned
 * (and a refused plaintext is zeroed).
 */
function decryptFernetChecked(
  cipher: Pick<EnvelopeCipher, 'policy'>,
  reader: FernetReader,
  value: StoredValue,
): Promise<Buffer> {
  try {
    const { plaintext, keyId } = reader.decryptWithKeyId(value);
    try {
      assertLegacyKeyReadable(cipher.policy, keyId);
    } catch (err) {
      plaintext.fill(0);
      throw err;
    }
    return Promise.resolve(plaintext);
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** A new legacy value (Fernet token or JSON key_id envelope) under `target`, which the catalog must let encrypt. */
function encryptLegacyValue(
  cipher: Pick<EnvelopeCipher, 'policy'>,
  readers: readonly LegacyReader[],
  plaintext: Buffer,
  kind: LegacyKind,
  target: string,
  opts?: { readonly timestamp?: number | undefined },
): Promise<string> {
  try {
    // The catalog decides who may encrypt, in every format: only the active key of its family.
    cipher.policy.assertCanEncrypt(target);
    if (kind === 'fernet') {
      const fernet = readers.find((r): r is FernetReader => r instanceof FernetReader);
      if (!fernet)
        throw new LegacyFormatError(
          'no Fernet key is configured: set ENCRYPTION_KEY (and ENCRYPTION_KEY_FALLBACK) to write Fernet tokens',
        );
      return Promise.resolve(fernet.encrypt(target, plaintext, opts?.timestamp));
    }
    const json = readers.find((r): r is JsonKeyIdReader => r instanceof JsonKeyIdReader);
    if (!json) {
      throw new LegacyFormatError(
        'no KEK for JSON key_id values: the raw keyring (SECRETS_ENCRYPTION_KEY / SECRETS_ENCRYPTION_KEY_PREVIOUS) holds them',
      );
    }
    return Promise.resolve(json.encrypt(target, plaintext));
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
