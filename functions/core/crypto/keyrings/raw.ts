import { createSecretKey, type KeyObject } from 'node:crypto';
import { KEY_BYTES } from '../aead';
import { KeyMaterialError, UnknownKeyError } from '../errors';
import type { GeneratedDataKey, Keyring, KeyringStats, RewrapArgs, WrapContext } from '../keyring';
import { randomPool } from '../random-pool';
import { LOCAL_WRAPPED_KEY_BYTES, unwrapLocal as unwrap, wrapLocal as wrap } from './local-wrap';

/** A wrapped data key under a raw KEK: nonce (12) | AES-256-GCM(dek) (32) | tag (16). */
export const RAW_WRAPPED_KEY_BYTES = LOCAL_WRAPPED_KEY_BYTES;

/** Raw key ids: letters, digits, `.`, `_`, `-` (no `:` — it separates id from key in the environment). */
const RAW_KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface RawKey {
  readonly id: string;
  /** 32 bytes. A Buffer is copied into a KeyObject; the caller keeps (and may zero) its own buffer. */
  readonly key: Buffer | KeyObject;
}

/** Environment variables fromEnv reads. */
export const RAW_KEY_ENV = {
  primary: 'SECRETS_ENCRYPTION_KEY',
  previous: 'SECRETS_ENCRYPTION_KEY_PREVIOUS',
  list: 'SECRETS_ENCRYPTION_KEYS',
} as const;

/**
 * Keyring over key-encryption keys held in process memory, for development and
 * self-hosting. Wrapping is AES-256-GCM(KEK, nonce, dataKey, aad = the
 * envelope's wrap AAD), stored as nonce | ciphertext | tag (60 bytes): the
 * local wrap (local-wrap.ts) the hierarchical keyring uses too.
 *
 * KEKs are held as KeyObjects: the bytes live outside the JS heap, cannot be
 * printed by accident (util.inspect shows no material), and cost no more per
 * cipher set-up than a Buffer (measured: docs/performance.md).
 */
export class RawKeyring implements Keyring {
  readonly kind = 'raw' as const;
  private readonly keks = new Map<string, KeyObject>();
  private readonly ids: readonly string[];

  /** `keys[0]` is the primary unless `primaryKeyId` names another. */
  constructor(keys: readonly RawKey[], primaryKeyId?: string) {
    if (keys.length === 0) throw new KeyMaterialError('a raw keyring needs at least one key');
    for (const [index, { id, key }] of keys.entries()) {
      if (typeof id !== 'string' || !RAW_KEY_ID.test(id)) {
        throw new KeyMaterialError(`raw key ${index + 1}: the id must be 1-64 characters from [A-Za-z0-9._-]`);
      }
      if (this.keks.has(id)) throw new KeyMaterialError(`raw key ${index + 1}: duplicate key id ${JSON.stringify(id)}`);
      this.keks.set(id, toKeyObject(key, `raw key ${JSON.stringify(id)}`));
    }
    const primary = primaryKeyId ?? (keys[0] as RawKey).id;
    if (!this.keks.has(primary))
      throw new KeyMaterialError(`the primary key ${JSON.stringify(primary)} is not among the keys given`);
    this.ids = [primary, ...[...this.keks.keys()].filter((id) => id !== primary)];
  }

  /**
   * The KEK with this id, for the legacy JSON key_id reader, which decrypts
   * values the runbook's tool sealed under the same `kek-vN` keys. A KeyObject:
   * it never shows up in logs or JSON.
   */
  kekFor(id: string): KeyObject | undefined {
    return this.keks.get(id);
  }

  /**
   * Reads KEKs from the environment. Each entry is `<id>:<base64 of 32 bytes>`;
   * lists are comma-separated; blank variables count as unset.
   *
   * - `SECRETS_ENCRYPTION_KEY`: the primary (encrypts new values).
   * - `SECRETS_ENCRYPTION_KEYS`: a list, primary first — for more than two keys
   *   in one variable. When SECRETS_ENCRYPTION_KEY is also set, that one is
   *   the primary and the whole list is decrypt-only.
   * - `SECRETS_ENCRYPTION_KEY_PREVIOUS`: decrypt-only keys, one or a list (the
   *   operators' `kek-v1:<base64>` convention, extended to lists).
   *
   * Key order: primary, then the list, then previous. The same id in two
   * variables is accepted when the key is identical (and kept once); twice in
   * one variable, or with different material, is an error. Every error names
   * the variable, the entry position and what is wrong, never the key.
   */
  static fromEnv(env: Readonly<Record<string, string | undefined>> = process.env): RawKeyring {
    const parsed: ParsedEntry[] = [];
    try {
      const primary = parseEntries(env, RAW_KEY_ENV.primary, parsed);
      const list = parseEntries(env, RAW_KEY_ENV.list, parsed);
      const previous = parseEntries(env, RAW_KEY_ENV.previous, parsed);
      if (primary > 1) {
        throw new KeyMaterialError(
          `${RAW_KEY_ENV.primary} holds ${primary} keys; it takes one (put older keys in ${RAW_KEY_ENV.previous}, or all of them, primary first, in ${RAW_KEY_ENV.list})`,
        );
      }
      if (primary + list + previous === 0) {
        throw new KeyMaterialError(
          `no key-encryption key configured: set ${RAW_KEY_ENV.primary}=kek-v1:<base64 of 32 random bytes>`,
        );
      }
      if (primary + list === 0) {
        throw new KeyMaterialError(
          `${RAW_KEY_ENV.previous} is set but there is no primary key: set ${RAW_KEY_ENV.primary} (or ${RAW_KEY_ENV.list})`,
        );
      }

      const unique = new Map<string, ParsedEntry>();
      for (const entry of parsed) {
        const seen = unique.get(entry.id);
        if (!seen) {
          unique.set(entry.id, entry);
        } else if (seen.variable === entry.variable || !seen.key.equals(entry.key)) {
          throw new KeyMaterialError(
            `${entry.where}: duplicate key id ${JSON.stringify(entry.id)}` +
              (seen.variable === entry.variable ? '' : ` (also in ${seen.variable}, with different key material)`),
          );
        }
      }
      return new RawKeyring([...unique.values()].map(({ id, key }) => ({ id, key })));
    } finally {
      for (const entry of parsed) entry.key.fill(0); // the KeyObjects hold their own copies
    }
  }

  async keyIds(): Promise<readonly string[]> {
    return this.ids;
  }

  async primaryKeyId(): Promise<string> {
    return this.ids[0] as string;
  }

  async generateDataKey(keyId: string, wrapContext: WrapContext): Promise<GeneratedDataKey> {
    const kek = this.kek(keyId);
    const plaintext = randomPool.bytes(KEY_BYTES);
    try {
      return { keyId, plaintext, wrapped: wrap(kek, plaintext, wrapContext.aad) };
    } catch (err) {
      plaintext.fill(0);
      throw err;
    }
  }

  async unwrapDataKey(keyId: string, wrapped: Buffer, wrapContext: WrapContext): Promise<Buffer> {
    return unwrap(this.kek(keyId), wrapped, wrapContext.aad);
  }

  async rewrapDataKey(...[keyId, wrapped, wrapContext, targetKeyId, targetContext]: RewrapArgs): Promise<Buffer> {
    const target = this.kek(targetKeyId);
    const dataKey = unwrap(this.kek(keyId), wrapped, wrapContext.aad);
    try {
      return wrap(target, dataKey, targetContext.aad);
    } finally {
      dataKey.fill(0);
    }
  }

  async refresh(): Promise<void> {
    // Nothing cached: the keys are the ones given at construction.
  }

  stats(): KeyringStats {
    return { kmsCalls: 0, secretsManagerCalls: 0 };
  }

  private kek(keyId: string): KeyObject {
    const kek = this.keks.get(keyId);
    if (!kek) throw new UnknownKeyError(keyId);
    return kek;
  }
}

/** `<id>:<base64>` — the line an operator puts in SECRETS_ENCRYPTION_KEY. For generating keys (CLI, examples, tests). */
export function formatRawKey(id: string, key: Buffer): string {
  if (!RAW_KEY_ID.test(id)) throw new KeyMaterialError('the id must be 1-64 characters from [A-Za-z0-9._-]');
  if (key.length !== KEY_BYTES)
    throw new KeyMaterialError(`a key-encryption key must be ${KEY_BYTES} bytes, got ${key.length}`);
  return `${id}:${key.toString('base64')}`;
}

function toKeyObject(key: Buffer | KeyObject, what: string): KeyObject {
  if (Buffer.isBuffer(key)) {
    if (key.length !== KEY_BYTES)
      throw new KeyMaterialError(`${what} is ${key.length} bytes; a key-encryption key is ${KEY_BYTES}`);
    return createSecretKey(Buffer.from(key)); // a copy, so a caller zeroing its buffer cannot break the keyring
  }
  if (key?.type !== 'secret' || key.symmetricKeySize !== KEY_BYTES) {
    throw new KeyMaterialError(`${what} must be a 32-byte secret key`);
  }
  return key;
}

interface ParsedEntry {
  readonly id: string;
  readonly key: Buffer;
  readonly variable: string;
  /** `VARIABLE` or `VARIABLE entry N`, for messages. */
  readonly where: string;
}

/** Parses one variable's entries into `into`; returns how many it held. */
function parseEntries(
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
  into: ParsedEntry[],
): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return 0;
  const parts = raw.split(',');
  let count = 0;
  for (const [index, part] of parts.entries()) {
    const text = part.trim();
    if (text === '') continue; // a trailing or doubled comma is harmless
    const where = parts.length > 1 ? `${variable} entry ${index + 1}` : variable;
    const colon = text.indexOf(':');
    if (colon < 0) {
      throw new KeyMaterialError(
        `${where}: missing the "<key id>:" prefix (expected e.g. kek-v2:<base64 of 32 bytes>)`,
      );
    }
    const id = text.slice(0, colon);
    if (!RAW_KEY_ID.test(id)) {
      throw new KeyMaterialError(`${where}: the key id before ":" must be 1-64 characters from [A-Za-z0-9._-]`);
    }
    const material = text.slice(colon + 1);
    if (material.length % 4 === 1 || !BASE64.test(material) || (material.includes('=') && material.length % 4 !== 0)) {
      throw new KeyMaterialError(`${where} (${id}): the key is not valid base64`);
    }
    const key = Buffer.from(material, 'base64');
    into.push({ id, key, variable, where });
    count += 1;
    if (key.length !== KEY_BYTES) {
      throw new KeyMaterialError(
        `${where} (${id}): the key decodes to ${key.length} bytes; a key-encryption key is ${KEY_BYTES}`,
      );
    }
  }
  return count;
}
