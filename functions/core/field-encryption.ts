import type { EncryptionContext } from './crypto/context';
import { EnvelopeCipher } from './crypto/envelope-cipher';
import { isEnvelope, peekKeyId } from './crypto/envelope';
import { EnvelopeFormatError, OversizeError, PlaintextEncodingError } from './crypto/errors';
import type { Keyring } from './crypto/keyring';
import type { LegacyFormat, LegacyReader } from './crypto/legacy/reader';
import { assertLegacyKeyReadable, type KeyPolicy } from './crypto/key-policy';
import type { Sql } from './ports/sql';
import { startReaderHeartbeat, type ReaderHeartbeat } from './readers/heartbeat';

export interface FieldEncryptionOptions {
  /** Where the key-encryption keys come from, e.g. `RawKeyring.fromEnv()`. */
  readonly keyring: Keyring;
  /** The key catalog's policy; by default the keyring's primary is active and the other keys decrypt only. */
  readonly policy?: KeyPolicy;
  /**
   * Readers for values written before rekey (Fernet, JSON key_id envelopes,
   * plaintext), tried in order when a value is not a rekey envelope. Without
   * them, only envelopes decrypt.
   */
  readonly legacyReaders?: readonly LegacyReader[];
  /** Largest plaintext accepted, in bytes (default 4 MiB). */
  readonly maxPlaintextBytes?: number;
  /**
   * Register as a reader of the rollout gate (docs/readers.md): a heartbeat
   * row in `rekey_readers` (key ids this process can decrypt, the key it
   * encrypts with) written now and every `intervalSeconds` (default 60;
   * REKEY_READER_HEARTBEAT_SECONDS), so `rekey keys activate` waits for this
   * process to have a new key before it becomes primary. Off when absent or
   * when REKEY_READER_HEARTBEAT=off. `close()` removes the row.
   */
  readonly readers?: {
    readonly sql: Sql;
    readonly intervalSeconds?: number;
    /** @default the host name */
    readonly host?: string;
    readonly env?: NodeJS.ProcessEnv;
    /** A failed heartbeat never throws into the application; it is reported here. */
    readonly onError?: (err: unknown) => void;
  };
}

/** Where a stored value stands: a rekey envelope under a key, or a legacy format. */
export type StoredValueKind =
  | { readonly kind: 'envelope'; readonly keyId: string }
  | { readonly kind: 'legacy'; readonly format: LegacyFormat; readonly keyId: string | undefined };

/**
 * The calls an application makes to protect one field:
 *
 * ```ts
 * const rekey = await createFieldEncryption({ keyring: RawKeyring.fromEnv() });
 * const stored = await rekey.encryptField('s3cret', { table: 'users', column: 'email', rowId: '42' }); // 'rk1:…'
 * const value = await rekey.decryptField(stored, { table: 'users', column: 'email', rowId: '42' });    // 's3cret'
 * ```
 *
 * The context must be the same on both sides: a value copied to another row,
 * column, table or tenant does not decrypt.
 */
export async function createFieldEncryption(options: FieldEncryptionOptions): Promise<FieldEncryption> {
  const cipher = await EnvelopeCipher.create(options);
  const reader = options.readers
    ? await startReaderHeartbeat({
        ...options.readers,
        kind: 'library',
        keyring: options.keyring,
        policy: cipher.policy,
      })
    : undefined;
  return new FieldEncryption(cipher, options.legacyReaders ?? [], reader);
}

export class FieldEncryption {
  // fatal: bytes that are not UTF-8 raise instead of turning into U+FFFD.
  private static readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(
    readonly cipher: EnvelopeCipher,
    private readonly legacyReaders: readonly LegacyReader[] = [],
    /** The rollout gate's heartbeat, when `readers` was given. */
    readonly reader?: ReaderHeartbeat,
  ) {}

  /** Stops the reader heartbeat and removes this process from the readers (nothing else to release). */
  async close(): Promise<void> {
    await this.reader?.stop();
  }

  /** A text envelope (`rk1:…`) for a text/varchar column. */
  encryptField(value: string, ctx: EncryptionContext, opts?: { keyId?: string }): Promise<string> {
    return this.cipher.encrypt(value, ctx, { keyId: opts?.keyId, output: 'text' });
  }

  /** A binary envelope for a bytea column. */
  encryptFieldBytes(value: Buffer | string, ctx: EncryptionContext, opts?: { keyId?: string }): Promise<Buffer> {
    return this.cipher.encrypt(value, ctx, { keyId: opts?.keyId, output: 'binary' });
  }

  /** The stored value as text. Throws PlaintextEncodingError when it was stored as bytes that are not UTF-8. */
  async decryptField(stored: Uint8Array | string, ctx: EncryptionContext): Promise<string> {
    const bytes = await this.decryptFieldBytes(stored, ctx);
    try {
      return FieldEncryption.utf8.decode(bytes);
    } catch {
      throw new PlaintextEncodingError('the decrypted value is not valid UTF-8 text: read it with decryptFieldBytes');
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * The stored value as bytes: a rekey envelope (text or binary form), else
   * the first legacy reader that recognizes it. A value nothing recognizes
   * fails with the envelope parser's EnvelopeFormatError.
   */
  async decryptFieldBytes(stored: Uint8Array | string, ctx: EncryptionContext): Promise<Buffer> {
    const value = storedValue(stored);
    if (claimsEnvelope(value)) return this.cipher.decrypt(value, ctx);
    const reader = this.readerFor(value);
    if (!reader) return this.cipher.decrypt(value, ctx); // throws the precise EnvelopeFormatError / UnsupportedVersionError
    this.cipher.assertStoredSize(value);
    // A legacy format that names its key (JSON key_id) obeys the catalog like an envelope: a destroyed key never decrypts.
    const keyId = reader.keyIdOf(value);
    if (keyId !== undefined) assertLegacyKeyReadable(this.cipher.policy, keyId);
    const plaintext = await reader.decrypt(value);
    if (plaintext.length > this.cipher.maxPlaintextBytes) {
      const size = plaintext.length;
      plaintext.fill(0);
      throw new OversizeError(size, this.cipher.maxPlaintextBytes);
    }
    return plaintext;
  }

  /** True when the value is an envelope whose key is not the one new values in `tenant` go under, or is a legacy value. */
  needsRotation(stored: Uint8Array | string, tenant?: string | null): boolean {
    const kind = this.kindOf(stored);
    return kind.kind === 'legacy' || kind.keyId !== this.cipher.policy.encryptionKeyId(tenant);
  }

  /** What a stored value is and which key it names, without decrypting. */
  kindOf(value: Uint8Array | string): StoredValueKind {
    const stored = storedValue(value);
    if (claimsEnvelope(stored)) return { kind: 'envelope', keyId: peekKeyId(stored) };
    const reader = this.readerFor(stored);
    if (reader) return { kind: 'legacy', format: reader.format, keyId: reader.keyIdOf(stored) };
    return { kind: 'envelope', keyId: peekKeyId(stored) }; // throws why it is not an envelope
  }

  private readerFor(stored: Buffer | string): LegacyReader | undefined {
    return this.legacyReaders.find((reader) => reader.recognizes(stored));
  }
}

const REKEY_TEXT_PREFIX = /^rk\d{1,3}:/;

/**
 * The stored value as a string or Buffer (a plain Uint8Array is viewed as a
 * Buffer, not copied); anything else — null from a nullable column, a number —
 * is an EnvelopeFormatError, before any reader looks at it.
 */
function storedValue(stored: unknown): Buffer | string {
  if (typeof stored === 'string' || Buffer.isBuffer(stored)) return stored;
  if (stored instanceof Uint8Array) return Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  throw new EnvelopeFormatError(
    'bad-type',
    `a stored value must be a string or a Buffer, got ${stored === null ? 'null' : typeof stored}`,
  );
}

/**
 * Whether a value is a rekey envelope (or one gone bad) rather than a legacy
 * value: text carrying an `rk<version>:` prefix always is, so a damaged
 * envelope fails with its own error instead of falling through to, say, a
 * plaintext reader; binary must pass the structural check.
 */
function claimsEnvelope(stored: Buffer | string): boolean {
  return typeof stored === 'string' ? REKEY_TEXT_PREFIX.test(stored) : isEnvelope(stored);
}
