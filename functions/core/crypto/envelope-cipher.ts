import { StaticKeyPolicy, type KeyPolicy } from './key-policy';
import { NONCE_BYTES, TAG_BYTES, open, sealInto } from './aead';
import type { EncryptionContext } from './context';
import { encodeContext } from './context-encoding';
import {
  ENVELOPE_V1,
  MAX_KEY_ID_BYTES,
  MAX_WRAPPED_KEY_BYTES,
  MIN_ENVELOPE_BYTES,
  TEXT_PREFIX_V1,
  layoutEnvelope,
  parseEnvelope,
  serializeEnvelope,
  toText,
  type EnvelopeV1,
} from './envelope';
import { dataAadFromEncoded, wrapAadFromEncoded } from './envelope-aad';
import { InvalidPlaintextError, OversizeError } from './errors';
import type { Keyring, WrapContext } from './keyring';
import { needs } from './needs';
import { randomPool } from './random-pool';
import { hasLoneSurrogate } from './unicode';

/** Default limit on one plaintext value: 4 MiB. Large enough for any field, small enough to refuse a runaway blob. */
export const DEFAULT_MAX_PLAINTEXT_BYTES = 4 * 1024 * 1024;

export interface EnvelopeCipherOptions {
  readonly keyring: Keyring;
  /** Which key may encrypt/decrypt: the key catalog's policy, or one derived from the keyring (see create). */
  readonly policy: KeyPolicy;
  /** Largest plaintext accepted, in bytes (default 4 MiB). Also bounds the envelope size decrypt accepts. */
  readonly maxPlaintextBytes?: number;
}

export interface EncryptOptions {
  /** Encrypt under this key instead of the policy's active key for the context's tenant. Must be active. */
  readonly keyId?: string;
  /** Envelope form to return; by default the form of the input (string → text, Buffer → binary). */
  readonly output?: 'text' | 'binary';
}

/**
 * Envelope encryption of single values: a fresh data key per value, wrapped by
 * the keyring, AES-256-GCM over the value, everything bound to the encryption
 * context (see envelope.ts for the layout and AAD).
 *
 * Forms: a string input is the text form (`rk1:…`), a Buffer the binary form;
 * results come back in the same form unless `output` says otherwise.
 *
 * rekey checks the KeyPolicy itself before every use of a key: nothing
 * encrypts under a key that is not active, and nothing decrypts under a
 * destroyed key even where the keyring (or KMS) would still answer.
 *
 * Plaintext data keys are zeroed as soon as they are used, on every path.
 */
export class EnvelopeCipher {
  readonly keyring: Keyring;
  readonly policy: KeyPolicy;
  readonly maxPlaintextBytes: number;
  private readonly maxEnvelopeBytes: number;
  private readonly maxTextLength: number;

  constructor(options: EnvelopeCipherOptions) {
    this.keyring = options.keyring;
    this.policy = options.policy;
    const max = options.maxPlaintextBytes ?? DEFAULT_MAX_PLAINTEXT_BYTES;
    /* Precondition: maxPlaintextBytes is a non-negative integer. */
    needs(
      Number.isSafeInteger(max) && max >= 0,
      () => new RangeError(`maxPlaintextBytes must be a non-negative integer, got ${max}`),
    );
    this.maxPlaintextBytes = max;
    this.maxEnvelopeBytes = MIN_ENVELOPE_BYTES - 2 + MAX_KEY_ID_BYTES + MAX_WRAPPED_KEY_BYTES + max;
    this.maxTextLength = TEXT_PREFIX_V1.length + Math.ceil((this.maxEnvelopeBytes * 4) / 3);
  }

  /**
   * A cipher over `keyring`. Without a policy (no key catalog), the keyring's
   * primary key is active and every other key retired (decrypt only). That
   * policy is a snapshot: pass the catalog's policy when keys change at run time.
   */
  static async create(options: {
    keyring: Keyring;
    policy?: KeyPolicy;
    maxPlaintextBytes?: number;
  }): Promise<EnvelopeCipher> {
    const policy =
      options.policy ??
      StaticKeyPolicy.fromKeyIds(await options.keyring.primaryKeyId(), await options.keyring.keyIds());
    return new EnvelopeCipher({ ...options, policy });
  }

  /** Encrypts under `opts.keyId` or the active key for `ctx.tenant`. */
  encrypt(
    plaintext: Buffer | string,
    ctx: EncryptionContext,
    opts: EncryptOptions & { output: 'text' },
  ): Promise<string>;
  encrypt(
    plaintext: Buffer | string,
    ctx: EncryptionContext,
    opts: EncryptOptions & { output: 'binary' },
  ): Promise<Buffer>;
  encrypt(plaintext: string, ctx: EncryptionContext, opts?: EncryptOptions): Promise<string>;
  encrypt(plaintext: Buffer, ctx: EncryptionContext, opts?: EncryptOptions): Promise<Buffer>;
  encrypt(plaintext: Buffer | string, ctx: EncryptionContext, opts?: EncryptOptions): Promise<Buffer | string>;
  async encrypt(
    plaintext: Buffer | string,
    ctx: EncryptionContext,
    opts: EncryptOptions = {},
  ): Promise<Buffer | string> {
    const bytes = this.plaintextBytes(plaintext);
    const keyId = opts.keyId ?? this.policy.encryptionKeyId(ctx?.tenant);
    this.policy.assertCanEncrypt(keyId, ctx?.tenant ?? null);
    let binary: Buffer;
    try {
      binary = await this.sealNew(bytes, ctx, keyId);
    } finally {
      if (bytes !== plaintext) bytes.fill(0); // our UTF-8 copy of a string plaintext
    }
    return (opts.output ?? (typeof plaintext === 'string' ? 'text' : 'binary')) === 'text' ? toText(binary) : binary;
  }

  /** The plaintext of an envelope (text or binary form). The caller may zero it when done. */
  async decrypt(envelope: Buffer | string, ctx: EncryptionContext): Promise<Buffer> {
    const parsed = this.parse(envelope);
    this.policy.assertCanDecrypt(parsed.keyId);
    const encoded = encodeContext(ctx);
    const dataKey = await this.keyring.unwrapDataKey(
      parsed.keyId,
      parsed.wrappedKey,
      this.wrapContext(parsed.keyId, ctx, encoded),
    );
    try {
      return open(dataKey, parsed.nonce, parsed.sealed, dataAadFromEncoded(ENVELOPE_V1, encoded), 'ciphertext');
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Re-wraps the data key under `targetKeyId` (default: the active key for the
   * tenant) and keeps nonce and ciphertext as they are — no data
   * re-encryption, which is what makes key rotation cheap. The data
   * ciphertext is not checked here (its key is, by the unwrap); a tampered
   * ciphertext still fails on decrypt, and `reencrypt` or verify --decrypt
   * check it.
   */
  rewrap(envelope: string, ctx: EncryptionContext, targetKeyId?: string): Promise<string>;
  rewrap(envelope: Buffer, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer>;
  rewrap(envelope: Buffer | string, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer | string>;
  async rewrap(envelope: Buffer | string, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer | string> {
    const parsed = this.parse(envelope);
    this.policy.assertCanDecrypt(parsed.keyId);
    const target = targetKeyId ?? this.policy.encryptionKeyId(ctx?.tenant);
    this.policy.assertCanEncrypt(target, ctx?.tenant ?? null);
    const encoded = encodeContext(ctx);
    const wrappedKey = await this.keyring.rewrapDataKey(
      parsed.keyId,
      parsed.wrappedKey,
      this.wrapContext(parsed.keyId, ctx, encoded),
      target,
      this.wrapContext(target, ctx, encoded),
    );
    const binary = serializeEnvelope({ ...parsed, keyId: target, wrappedKey });
    return typeof envelope === 'string' ? toText(binary) : binary;
  }

  /**
   * Decrypts and encrypts again under a fresh data key and nonce (the path for
   * a compromised data key or KEK): every byte after the header changes.
   */
  reencrypt(envelope: string, ctx: EncryptionContext, targetKeyId?: string): Promise<string>;
  reencrypt(envelope: Buffer, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer>;
  reencrypt(envelope: Buffer | string, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer | string>;
  async reencrypt(envelope: Buffer | string, ctx: EncryptionContext, targetKeyId?: string): Promise<Buffer | string> {
    const target = targetKeyId ?? this.policy.encryptionKeyId(ctx?.tenant);
    this.policy.assertCanEncrypt(target, ctx?.tenant ?? null);
    const plaintext = await this.decrypt(envelope, ctx);
    try {
      const binary = await this.sealNew(plaintext, ctx, target);
      return typeof envelope === 'string' ? toText(binary) : binary;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Parses after checking the size bound, so an oversized value is refused before it is decoded. */
  parse(envelope: Buffer | string): EnvelopeV1 {
    this.assertStoredSize(envelope, 'envelope');
    return parseEnvelope(envelope);
  }

  /**
   * Refuses a stored value longer than an envelope of the largest plaintext
   * could be, before anything decodes it. Legacy values (Fernet, JSON key_id,
   * plaintext) are held to the same bound: their encodings are no denser.
   */
  assertStoredSize(stored: Buffer | string, what = 'stored value'): void {
    const size = typeof stored === 'string' ? stored.length : stored?.length;
    const limit = typeof stored === 'string' ? this.maxTextLength : this.maxEnvelopeBytes;
    /* Precondition: a stored value is no longer than an envelope of the largest plaintext. */
    needs(!(size > limit), () => new OversizeError(size, limit, what));
  }

  private async sealNew(plaintext: Buffer, ctx: EncryptionContext, keyId: string): Promise<Buffer> {
    const encoded = encodeContext(ctx);
    const { plaintext: dataKey, wrapped } = await this.keyring.generateDataKey(
      keyId,
      this.wrapContext(keyId, ctx, encoded),
    );
    try {
      const { bytes, nonceOffset, sealedOffset } = layoutEnvelope(keyId, wrapped, plaintext.length + TAG_BYTES);
      const nonce = randomPool.fill(bytes, nonceOffset, NONCE_BYTES).subarray(nonceOffset, sealedOffset);
      sealInto(dataKey, nonce, plaintext, dataAadFromEncoded(ENVELOPE_V1, encoded), bytes, sealedOffset);
      return bytes;
    } finally {
      dataKey.fill(0);
    }
  }

  private wrapContext(keyId: string, context: EncryptionContext, encoded: Buffer): WrapContext {
    return { formatVersion: ENVELOPE_V1, context, aad: wrapAadFromEncoded(ENVELOPE_V1, keyId, encoded) };
  }

  /** The plaintext as bytes, size-checked. A string is encoded to a new buffer (zeroed by the caller after use). */
  private plaintextBytes(plaintext: Buffer | string): Buffer {
    if (typeof plaintext === 'string') {
      const size = Buffer.byteLength(plaintext, 'utf8');
      /* Precondition: a plaintext string is at most maxPlaintextBytes of UTF-8. */
      needs(size <= this.maxPlaintextBytes, () => new OversizeError(size, this.maxPlaintextBytes));
      // UTF-8 would turn a lone surrogate into U+FFFD: the value decrypted would not be the value stored.
      /* Precondition: a plaintext string is well-formed Unicode. */
      needs(
        !hasLoneSurrogate(plaintext),
        () =>
          new InvalidPlaintextError(
            'the plaintext string is not well-formed Unicode (lone surrogate); encrypt it as bytes instead',
          ),
      );
      return Buffer.from(plaintext, 'utf8');
    }
    /* Precondition: plaintext is a string or bytes. */
    needs(
      (plaintext as unknown) instanceof Uint8Array,
      () =>
        new InvalidPlaintextError(
          `plaintext must be a string or a Buffer, got ${plaintext === null ? 'null' : typeof plaintext}`,
        ),
    );
    /* Precondition: plaintext bytes are at most maxPlaintextBytes. */
    needs(
      plaintext.length <= this.maxPlaintextBytes,
      () => new OversizeError(plaintext.length, this.maxPlaintextBytes),
    );
    return Buffer.isBuffer(plaintext) ? plaintext : Buffer.from(plaintext as Uint8Array); // a copy: ours to zero
  }
}
