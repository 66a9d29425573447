import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthenticationError, KeyMaterialError, LegacyFormatError } from '../errors';
import type { LegacyReader } from './reader';

/**
 * Fernet (https://github.com/fernet/spec): version 0x80 | timestamp (8, BE) |
 * IV (16) | AES-128-CBC ciphertext | HMAC-SHA256 (32) over everything before
 * it, base64url. A key is 32 bytes: signing key (first 16) | encryption key.
 */
const VERSION = 0x80;
const HEADER_BYTES = 1 + 8 + 16;
const HMAC_BYTES = 32;
const MIN_TOKEN_BYTES = HEADER_BYTES + 16 + HMAC_BYTES; // one CBC block at least
const TOKEN_PATTERN = /^[A-Za-z0-9_-]+={0,2}$/;

export const FERNET_ENV = { primary: 'ENCRYPTION_KEY', fallback: 'ENCRYPTION_KEY_FALLBACK' } as const;

interface FernetKey {
  readonly signing: Buffer;
  readonly encryption: Buffer;
  /** Where it came from, for messages: `ENCRYPTION_KEY`, `ENCRYPTION_KEY_FALLBACK[2]`. */
  readonly source: string;
}

export interface FernetReaderOptions {
  /** Reject tokens older than this many seconds (Fernet's TTL). @default undefined — no TTL check */
  readonly ttlSeconds?: number;
  readonly now?: () => number;
}

/**
 * Reads Fernet tokens with the keys applications already have, in
 * MultiFernet order: ENCRYPTION_KEY first, then ENCRYPTION_KEY_FALLBACK (either
 * may hold a comma-separated list). The first key whose HMAC verifies decrypts;
 * the HMAC is checked, in constant time, before any decryption.
 */
export class FernetReader implements LegacyReader {
  readonly format = 'fernet' as const;

  constructor(private readonly keys: readonly FernetKey[], private readonly options: FernetReaderOptions = {}) {
    if (keys.length === 0) throw new KeyMaterialError('a Fernet reader needs at least one key');
  }

  /** Keys from ENCRYPTION_KEY then ENCRYPTION_KEY_FALLBACK; errors name the variable, never the key. */
  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env, options: FernetReaderOptions = {}): FernetReader {
    const keys = [...parseKeys(env, FERNET_ENV.primary), ...parseKeys(env, FERNET_ENV.fallback)];
    if (keys.length === 0) {
      throw new KeyMaterialError(`no Fernet key: set ${FERNET_ENV.primary} (and ${FERNET_ENV.fallback} for the previous one) to read Fernet tokens`);
    }
    return new FernetReader(keys, options);
  }

  /** True when any Fernet key variable is set (so callers can add the reader only when it can work). */
  static configured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
    return Boolean(env[FERNET_ENV.primary]?.trim() || env[FERNET_ENV.fallback]?.trim());
  }

  static fromKeys(keys: readonly (string | Buffer)[], options: FernetReaderOptions = {}): FernetReader {
    return new FernetReader(
      keys.map((k, i) => toKey(typeof k === 'string' ? decodeKey(k, `key ${i + 1}`) : k, `key ${i + 1}`)),
      options,
    );
  }

  recognizes(value: Buffer | string): boolean {
    const text = typeof value === 'string' ? value : value.toString('latin1');
    // 'gAAAAA' is base64url of 0x80 followed by the high bytes of a timestamp.
    if (!text.startsWith('gAAAAA') || !TOKEN_PATTERN.test(text)) return false;
    return Math.floor((text.replace(/=+$/, '').length * 3) / 4) >= MIN_TOKEN_BYTES;
  }

  keyIdOf(): string | undefined {
    return undefined;
  }

  async decrypt(value: Buffer | string): Promise<Buffer> {
    return this.decryptSync(value);
  }

  decryptSync(value: Buffer | string): Buffer {
    const text = typeof value === 'string' ? value : value.toString('latin1');
    if (!TOKEN_PATTERN.test(text)) throw new LegacyFormatError('the Fernet token is not base64url');
    const token = Buffer.from(text, 'base64url');
    if (token.length < MIN_TOKEN_BYTES || (token.length - HEADER_BYTES - HMAC_BYTES) % 16 !== 0) {
      throw new LegacyFormatError(`the Fernet token is truncated or malformed (${token.length} bytes)`);
    }
    if (token[0] !== VERSION) throw new LegacyFormatError(`the Fernet token has version byte 0x${token[0]!.toString(16)}, expected 0x80`);
    const signed = token.subarray(0, token.length - HMAC_BYTES);
    const mac = token.subarray(token.length - HMAC_BYTES);
    const key = this.keys.find((k) => timingSafeEqual(createHmac('sha256', k.signing).update(signed).digest(), mac));
    if (!key) throw new AuthenticationError('ciphertext');
    if (this.options.ttlSeconds !== undefined) {
      const issued = Number(token.readBigUInt64BE(1));
      const now = Math.floor((this.options.now?.() ?? Date.now()) / 1000);
      if (issued + this.options.ttlSeconds < now) throw new LegacyFormatError('the Fernet token has expired (TTL)');
    }
    const iv = token.subarray(9, HEADER_BYTES);
    const decipher = createDecipheriv('aes-128-cbc', key.encryption, iv);
    try {
      return Buffer.concat([decipher.update(token.subarray(HEADER_BYTES, token.length - HMAC_BYTES)), decipher.final()]);
    } catch (err) {
      // The HMAC verified, so bad padding means the token was made with a broken writer.
      throw new LegacyFormatError('the Fernet token authenticated but its padding is invalid', { cause: err });
    }
  }
}

/** Writes a Fernet token (for tests and benchmarks; rekey never writes Fernet in production). */
export function fernetEncrypt(key: string | Buffer, plaintext: Buffer | string, options: { iv?: Buffer; time?: number } = {}): string {
  const k = toKey(typeof key === 'string' ? decodeKey(key, 'key') : key, 'key');
  const iv = options.iv ?? randomBytes(16);
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(options.time ?? Math.floor(Date.now() / 1000)), 1);
  iv.copy(header, 9);
  const cipher = createCipheriv('aes-128-cbc', k.encryption, iv);
  const body = Buffer.concat([header, cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext), cipher.final()]);
  const mac = createHmac('sha256', k.signing).update(body).digest();
  // Fernet tokens are base64url with padding, as Python's urlsafe_b64encode writes them.
  const text = Buffer.concat([body, mac]).toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

function parseKeys(env: Readonly<Record<string, string | undefined>>, variable: string): FernetKey[] {
  const raw = env[variable]?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry, i, all) => {
    const where = all.length > 1 ? `${variable}[${i + 1}]` : variable;
    return toKey(decodeKey(entry.trim(), where), where);
  });
}

function decodeKey(text: string, where: string): Buffer {
  if (!/^[A-Za-z0-9_\-+/]+={0,2}$/.test(text)) throw new KeyMaterialError(`${where} is not a base64url Fernet key`);
  const key = Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (key.length !== 32) throw new KeyMaterialError(`${where} decodes to ${key.length} bytes; a Fernet key is 32 bytes (44 base64url characters)`);
  return key;
}

function toKey(key: Buffer, source: string): FernetKey {
  if (key.length !== 32) throw new KeyMaterialError(`${source}: a Fernet key is 32 bytes, got ${key.length}`);
  return { signing: Buffer.from(key.subarray(0, 16)), encryption: Buffer.from(key.subarray(16)), source };
}
