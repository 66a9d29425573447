import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { KeyMaterialError } from '../errors';
import { FERNET_KEY_PREFIX } from '../key-policy';

/**
 * Fernet key material: a key is 32 bytes, base64url: signing key (first 16)
 * | encryption key (last 16). Read from the application's variables, named
 * by a one-way fingerprint (its catalog id), never by its bytes.
 */
export interface FernetKey {
  /** KeyObjects: imported once, not on every HMAC and cipher of a rotation. */
  readonly signing: KeyObject;
  readonly encryption: KeyObject;
  /** Where it came from, for messages: `ENCRYPTION_KEY`, `ENCRYPTION_KEY_FALLBACK[2]`, `key 1`. */
  readonly source: string;
  /** Its catalog id, `fernet:<16 hex>` (fernetKeyId): names the key in counts and the catalog, never reveals it. */
  readonly id: string;
}

const FINGERPRINT_LABEL = Buffer.from('rekey fernet key id v1\0', 'latin1');

/**
 * The catalog id of a Fernet key: `fernet:` and the first 8 bytes (16 hex) of
 * SHA-256("rekey fernet key id v1\0" ‖ key). A one-way fingerprint — it names
 * the key in counts, the catalog and the audit log without revealing it; the
 * label keeps it from matching any other hash of the key. 64 bits tell a
 * deployment's handful of keys apart with no realistic collision.
 */
export function fernetKeyId(key: string | Buffer): string {
  const raw = typeof key === 'string' ? decodeKey(key, 'key') : key;
  if (raw.length !== 32) throw new KeyMaterialError(`a Fernet key is 32 bytes, got ${raw.length}`);
  return FERNET_KEY_PREFIX + createHash('sha256').update(FINGERPRINT_LABEL).update(raw).digest('hex').slice(0, 16);
}

/** The keys a variable holds (one, or a comma-separated list read left to right), each named by where it came from. */
export function parseKeys(env: Readonly<Record<string, string | undefined>>, variable: string): FernetKey[] {
  const raw = env[variable]?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry, i, all) => {
    const where = all.length > 1 ? `${variable}[${i + 1}]` : variable;
    return toKey(decodeKey(entry.trim(), where), where);
  });
}

/** base64url as Fernet.generate_key() writes it; standard-base64 `+` `/` are accepted too, as Python's urlsafe_b64decode does. */
export function decodeKey(text: string, where: string): Buffer {
  if (!/^[A-Za-z0-9_\-+/]+={0,2}$/.test(text) || text.length % 4 === 1)
    throw new KeyMaterialError(`${where} is not a base64url Fernet key`);
  const key = Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  if (key.length !== 32)
    throw new KeyMaterialError(
      `${where} decodes to ${key.length} bytes; a Fernet key is 32 bytes (44 base64url characters)`,
    );
  return key;
}

export function toKey(key: Buffer, source: string): FernetKey {
  if (key.length !== 32) throw new KeyMaterialError(`${source}: a Fernet key is 32 bytes, got ${key.length}`);
  return {
    signing: createSecretKey(key.subarray(0, 16)),
    encryption: createSecretKey(key.subarray(16)),
    source,
    id: fernetKeyId(key),
  };
}
