import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { randomPool } from '../random-pool';
import { KeyMaterialError, LegacyFormatError, UnknownKeyError } from '../errors';
import { LegacyAuthenticationError } from './errors';
import { decodeKey, parseKeys, toKey, type FernetKey } from './fernet-keys';
import type { LegacyReader } from './reader';
import { isPaddedBase64urlText, trailingPadding } from '../base64-alphabet';

/**
 * Fernet (https://github.com/fernet/spec): version 0x80 | timestamp (8, BE) |
 * IV (16) | AES-128-CBC ciphertext, PKCS7 | HMAC-SHA256 (32) over everything
 * before it; the whole base64url. A key is 32 bytes, base64url: signing key
 * (first 16) | encryption key (last 16); keys are read and named in fernet-keys.ts.
 */
const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
const MIN_TOKEN_BYTES = HEADER_BYTES + 16 + HMAC_BYTES; // one CBC block at least
/** The spec's alphabet: base64url, padding only at the end. Standard-base64 `+` `/` and trailing data are refused. */
const isTokenText = isPaddedBase64urlText;
/** As Python's cryptography: with a TTL, a token stamped more than this far in the future is refused too. */
const MAX_CLOCK_SKEW_SECONDS = 60;
const FERNET_PREFIX = Buffer.from('gAAAAA', 'latin1');

export const FERNET_ENV = { primary: 'ENCRYPTION_KEY', fallback: 'ENCRYPTION_KEY_FALLBACK' } as const;

/** Key id counted for a token whose HMAC verifies under none of the configured keys. */
export const UNKNOWN_FERNET_KEY = '(unknown fernet key)';

/** The timestamp (seconds) a token carries, read without a key; undefined when the value is not a decodable token. */
export function fernetTimestamp(value: Buffer | string): number | undefined {
  const text = typeof value === 'string' ? value : value.toString('latin1');
  if (!isTokenText(text)) return undefined;
  const token = Buffer.from(text, 'base64url');
  if (token.length < MIN_TOKEN_BYTES || token[0] !== VERSION) return undefined;
  return Number(token.readBigUInt64BE(1));
}

export interface FernetReaderOptions {
  /** Refuse tokens older than this many seconds, or stamped more than 60 s ahead (Fernet's TTL). @default undefined — no time check */
  readonly ttlSeconds?: number;
  /** Clock for the TTL check, in milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * True when the value has the shape of a Fernet token: base64url starting
 * with `gAAAAA` (0x80 and the zero high bytes of a timestamp) and long enough
 * for a header, one block and the HMAC. No key needed; nothing decoded.
 */
export function looksLikeFernet(value: Buffer | string): boolean {
  if (typeof value !== 'string' && !(Buffer.isBuffer(value) && value.subarray(0, 6).equals(FERNET_PREFIX)))
    return false; // no copy of a large bytea
  const text = typeof value === 'string' ? value : value.toString('latin1');
  if (!text.startsWith('gAAAAA') || !isTokenText(text)) return false;
  return Math.floor(((text.length - trailingPadding(text)) * 3) / 4) >= MIN_TOKEN_BYTES;
}

/**
 * Reads Fernet tokens with the keys applications already have, in
 * MultiFernet order: ENCRYPTION_KEY first, then ENCRYPTION_KEY_FALLBACK.
 * Either variable may hold a comma-separated list (`k1,k2`), read left to
 * right, for deployments that kept more than one previous key. The first key
 * whose HMAC verifies decrypts; the HMAC is compared in constant time before
 * anything is decrypted.
 */
export class FernetReader implements LegacyReader {
  readonly format = 'fernet' as const;

  constructor(
    private readonly keys: readonly FernetKey[],
    private readonly options: FernetReaderOptions = {},
  ) {
    if (keys.length === 0) throw new KeyMaterialError('a Fernet reader needs at least one key');
    if (options.ttlSeconds !== undefined && !(Number.isInteger(options.ttlSeconds) && options.ttlSeconds > 0)) {
      throw new KeyMaterialError(`ttlSeconds must be a positive whole number of seconds, got ${options.ttlSeconds}`);
    }
  }

  /** Keys from ENCRYPTION_KEY then ENCRYPTION_KEY_FALLBACK; errors name the variable, never the key. */
  static fromEnv(
    env: Readonly<Record<string, string | undefined>> = process.env,
    options: FernetReaderOptions = {},
  ): FernetReader {
    const keys = [...parseKeys(env, FERNET_ENV.primary), ...parseKeys(env, FERNET_ENV.fallback)];
    if (keys.length === 0) {
      throw new KeyMaterialError(
        `no Fernet key: set ${FERNET_ENV.primary} (and ${FERNET_ENV.fallback} for the previous one) to read Fernet tokens`,
      );
    }
    return new FernetReader(keys, options);
  }

  /** True when any Fernet key variable is set (so callers can add the reader only when it can work). */
  static configured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
    return Boolean(env[FERNET_ENV.primary]?.trim() || env[FERNET_ENV.fallback]?.trim());
  }

  /** Keys given directly (base64url text or 32 raw bytes), tried in order. */
  static fromKeys(keys: readonly (string | Buffer)[], options: FernetReaderOptions = {}): FernetReader {
    return new FernetReader(
      keys.map((k, i) => toKey(typeof k === 'string' ? decodeKey(k, `key ${i + 1}`) : k, `key ${i + 1}`)),
      options,
    );
  }

  recognizes(value: Buffer | string): boolean {
    return looksLikeFernet(value);
  }

  /**
   * The catalog id of the key whose HMAC verifies the token (which key a
   * value needs: what inventory, verify and the retire gate count), or
   * UNKNOWN_FERNET_KEY when none of the configured keys does. One HMAC per
   * key tried; nothing is decrypted.
   */
  keyIdOf(value: Buffer | string): string | undefined {
    const text = typeof value === 'string' ? value : value.toString('latin1');
    if (!isTokenText(text)) return UNKNOWN_FERNET_KEY;
    const token = Buffer.from(text, 'base64url');
    if (token.length < MIN_TOKEN_BYTES) return UNKNOWN_FERNET_KEY;
    const signed = token.subarray(0, token.length - HMAC_BYTES);
    const mac = token.subarray(token.length - HMAC_BYTES);
    for (const key of this.keys) {
      if (timingSafeEqual(createHmac('sha256', key.signing).update(signed).digest(), mac)) return key.id;
    }
    return UNKNOWN_FERNET_KEY;
  }

  /** The primary key's id: ENCRYPTION_KEY (the first key), which MultiFernet encrypts with. */
  primaryKeyId(): string {
    return this.keys[0]!.id;
  }

  /** Every configured key's id, primary first (catalog sync). */
  keyIds(): readonly string[] {
    return [...new Set(this.keys.map((k) => k.id))];
  }

  /**
   * A new token of `plaintext` under the configured key `keyId` — new IV, as
   * Fernet.encrypt — stamped `time` (seconds; default now). MultiFernet.rotate
   * is decrypt + this with the original token's timestamp (fernetTimestamp).
   * UnknownKeyError when no configured key has that id.
   */
  encrypt(keyId: string, plaintext: Buffer, time?: number): string {
    const key = this.keys.find((k) => k.id === keyId);
    if (!key) throw new UnknownKeyError(keyId);
    return writeToken(key, plaintext, { time });
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    return this.decryptSync(value);
  }

  decryptSync(value: Buffer | string): Buffer {
    return this.decryptWithKeyId(value).plaintext;
  }

  /** The plaintext and the id of the key whose HMAC verified it: one pass for a rotation, which needs both. */
  decryptWithKeyId(value: Buffer | string): { readonly plaintext: Buffer; readonly keyId: string } {
    const text = typeof value === 'string' ? value : value.toString('latin1');
    if (!isTokenText(text))
      throw new LegacyFormatError('the Fernet token is not base64url (or has data after its padding)');
    const token = Buffer.from(text, 'base64url');
    if (token.length < MIN_TOKEN_BYTES) {
      throw new LegacyFormatError(
        `the Fernet token is truncated: ${token.length} bytes, at least ${MIN_TOKEN_BYTES} expected`,
      );
    }
    if (token[0] !== VERSION)
      throw new LegacyFormatError(`the Fernet token has version byte 0x${token[0]!.toString(16)}, expected 0x80`);
    if ((token.length - HEADER_BYTES - HMAC_BYTES) % 16 !== 0) {
      throw new LegacyFormatError(
        `the Fernet token is malformed: its ciphertext is not a whole number of 16-byte blocks (${token.length} bytes in all)`,
      );
    }
    const signed = token.subarray(0, token.length - HMAC_BYTES);
    const mac = token.subarray(token.length - HMAC_BYTES);
    // Every key is tried, so the time taken does not say which one matched.
    let key: FernetKey | undefined;
    for (const candidate of this.keys) {
      const ok = timingSafeEqual(createHmac('sha256', candidate.signing).update(signed).digest(), mac);
      if (ok && !key) key = candidate;
    }
    if (!key) {
      throw new LegacyAuthenticationError(
        'fernet',
        'ciphertext',
        `the Fernet token's HMAC verifies under none of the ${this.keys.length} configured key(s) (${this.keys.map((k) => k.source).join(', ')}): ` +
          'it was made with another key, or it was altered',
      );
    }
    this.checkTime(token.readBigUInt64BE(1));
    const iv = token.subarray(9, HEADER_BYTES);
    const decipher = createDecipheriv('aes-128-cbc', key.encryption, iv);
    try {
      return {
        plaintext: Buffer.concat([
          decipher.update(token.subarray(HEADER_BYTES, token.length - HMAC_BYTES)),
          decipher.final(),
        ]),
        keyId: key.id,
      };
    } catch (err) {
      // The HMAC verified, so bad padding means the token was made by a broken writer.
      throw new LegacyFormatError('the Fernet token authenticated but its PKCS7 padding is invalid', { cause: err });
    }
  }

  private checkTime(issuedAt: bigint): void {
    const ttl = this.options.ttlSeconds;
    if (ttl === undefined) return;
    const now = BigInt(Math.floor((this.options.now?.() ?? Date.now()) / 1000));
    if (issuedAt + BigInt(ttl) < now)
      throw new LegacyFormatError(`the Fernet token has expired: issued ${now - issuedAt} s ago, TTL ${ttl} s`);
    if (issuedAt > now + BigInt(MAX_CLOCK_SKEW_SECONDS)) {
      throw new LegacyFormatError(
        `the Fernet token is stamped ${issuedAt - now} s in the future (more than the ${MAX_CLOCK_SKEW_SECONDS} s clock skew allowed)`,
      );
    }
  }
}

/**
 * Writes a Fernet token with a raw key, for tests and benchmarks (the engine
 * writes through FernetReader.encrypt, under a configured key by id). `iv`
 * and `time` (seconds) make it deterministic. Tests of the reader use tokens
 * from Python's cryptography, not from this.
 */
export function fernetEncrypt(
  key: string | Buffer,
  plaintext: Buffer | string,
  options: { iv?: Buffer; time?: number } = {},
): string {
  return writeToken(toKey(typeof key === 'string' ? decodeKey(key, 'key') : key, 'key'), plaintext, options);
}

function writeToken(
  k: FernetKey,
  plaintext: Buffer | string,
  options: { iv?: Buffer | undefined; time?: number | undefined },
): string {
  const iv = options.iv ?? randomPool.bytes(16);
  if (iv.length !== 16) throw new KeyMaterialError(`a Fernet IV is 16 bytes, got ${iv.length}`);
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(options.time ?? Math.floor(Date.now() / 1000)), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', k.encryption, iv);
  const body = Buffer.concat([
    header,
    cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
    cipher.final(),
  ]);
  const mac = createHmac('sha256', k.signing).update(body).digest();
  // Fernet tokens are base64url with padding, as Python's urlsafe_b64encode writes them.
  const text = Buffer.concat([body, mac]).toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}
