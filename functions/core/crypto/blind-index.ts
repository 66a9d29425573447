import { createHmac, hkdfSync } from 'node:crypto';
import { InvalidContextError, InvalidPlaintextError, KeyMaterialError } from './errors';

/**
 * Blind index: HMAC-SHA256 of a plaintext under a key of its own (never a
 * KEK), so an encrypted column can still be searched by equality
 * (`WHERE email_hash = $1`). Each table+column gets its own derived key
 * (HKDF-SHA256, no salt, info = "rekey-bidx|<table>|<column>"), so equal
 * values in two columns do not index alike. Values are `<key id>:<hex>`, e.g.
 * `bidx-v1:9f86…`, so rotation can tell which key made a stored index and
 * recompute it; lookups during a rotation use `candidates()` (one per key).
 *
 * Keys: BLIND_INDEX_KEY=bidx-v2:<base64 32 bytes> (primary),
 * BLIND_INDEX_KEY_PREVIOUS=bidx-v1:<base64>[,…] (still matched, never written).
 */
export const BLIND_INDEX_ENV = { primary: 'BLIND_INDEX_KEY', previous: 'BLIND_INDEX_KEY_PREVIOUS' } as const;

/**
 * 'email' lower-cases and trims (so ` Alice@Example.com` finds
 * `alice@example.com`); 'none' hashes the exact bytes. Applied to strings and
 * to UTF-8 bytes alike, so an application indexing a string and the engine
 * indexing the decrypted bytes agree.
 */
export type BlindIndexNormalization = 'none' | 'email';

export interface BlindIndexColumn {
  readonly table: string;
  readonly column: string;
  /** Overrides the index's default for this column. */
  readonly normalize?: BlindIndexNormalization;
}

export interface BlindIndexOptions {
  /** Normalisation for columns that do not say. @default 'none' */
  readonly normalize?: BlindIndexNormalization;
}

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const INDEX_PATTERN = /^([A-Za-z0-9._-]{1,64}):[0-9a-f]{64}$/;

export class BlindIndex {
  private readonly keys = new Map<string, Buffer>();
  private readonly derived = new Map<string, Buffer>();
  readonly primaryKeyId: string;

  constructor(
    keys: readonly { readonly id: string; readonly key: Buffer }[],
    private readonly options: BlindIndexOptions = {},
  ) {
    if (keys.length === 0) throw new KeyMaterialError('a blind index needs at least one key');
    for (const { id, key } of keys) {
      if (!ID_PATTERN.test(id))
        throw new KeyMaterialError(
          `blind index key id ${JSON.stringify(id.slice(0, 64))} must be 1-64 of [A-Za-z0-9._-]`,
        );
      if (key.length !== 32) throw new KeyMaterialError(`blind index key ${id} must be 32 bytes, got ${key.length}`);
      if (this.keys.has(id)) throw new KeyMaterialError(`duplicate blind index key id ${id}`);
      this.keys.set(id, Buffer.from(key));
    }
    this.primaryKeyId = keys[0]!.id;
  }

  static fromEnv(
    env: Readonly<Record<string, string | undefined>> = process.env,
    options: BlindIndexOptions = {},
  ): BlindIndex {
    const entries = [...parse(env, BLIND_INDEX_ENV.primary), ...parse(env, BLIND_INDEX_ENV.previous)];
    if (entries.length === 0) {
      throw new KeyMaterialError(
        `${BLIND_INDEX_ENV.primary} is not set: a blind index needs its own key (bidx-v1:<base64 of 32 bytes>)`,
      );
    }
    if (!env[BLIND_INDEX_ENV.primary]?.trim()) {
      throw new KeyMaterialError(
        `${BLIND_INDEX_ENV.previous} is set but ${BLIND_INDEX_ENV.primary} is not: the primary key writes new indexes`,
      );
    }
    return new BlindIndex(entries, options);
  }

  static configured(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
    return Boolean(env[BLIND_INDEX_ENV.primary]?.trim());
  }

  /** Every key id, primary first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** The index of `value` under the primary key. */
  index(value: Buffer | string, where: BlindIndexColumn): string {
    return this.indexWith(this.primaryKeyId, value, where);
  }

  /** One index per key version, primary first: `WHERE email_hash = ANY($1)` during a rotation. */
  candidates(value: Buffer | string, where: BlindIndexColumn): string[] {
    return this.keyIds.map((id) => this.indexWith(id, value, where));
  }

  /** The key id a stored index was made with, or undefined when it is not a `<key id>:<64 hex>` index. */
  versionOf(indexValue: string): string | undefined {
    return INDEX_PATTERN.exec(indexValue)?.[1];
  }

  /** True when the stored index was made with the primary key (nothing to recompute). */
  isCurrent(indexValue: string): boolean {
    return this.versionOf(indexValue) === this.primaryKeyId;
  }

  private indexWith(keyId: string, value: Buffer | string, where: BlindIndexColumn): string {
    // Checked here, not left to node:crypto, whose TypeError would quote the value (a number may be a card number).
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw new InvalidPlaintextError(
        `a blind index is computed over a string or a Buffer, got ${value === null ? 'null' : typeof value}`,
      );
    }
    if (typeof where !== 'object' || where === null)
      throw new InvalidContextError('context', 'a blind index needs { table, column }');
    const key = this.columnKey(keyId, where);
    const bytes = normalize(value, where.normalize ?? this.options.normalize ?? 'none');
    return `${keyId}:${createHmac('sha256', key).update(bytes).digest('hex')}`;
  }

  private columnKey(keyId: string, where: BlindIndexColumn): Buffer {
    const cacheKey = `${keyId}\u0000${where.table}\u0000${where.column}`;
    let key = this.derived.get(cacheKey);
    if (!key) {
      checkName(where.table, 'table');
      checkName(where.column, 'column');
      const root = this.keys.get(keyId);
      if (!root) throw new KeyMaterialError(`unknown blind index key ${keyId}`);
      key = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), `rekey-bidx|${where.table}|${where.column}`, 32));
      this.derived.set(cacheKey, key);
    }
    return key;
  }
}

function normalize(value: Buffer | string, how: BlindIndexNormalization): Buffer | string {
  if (how === 'none') return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const text =
    typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  return Buffer.from(text.trim().toLowerCase(), 'utf8');
}

/** `|` separates the HKDF info fields: a name containing it could derive another column's key. */
function checkName(name: unknown, field: 'table' | 'column'): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('|')) {
    throw new InvalidContextError(field, `blind index ${field} must be a non-empty name without '|'`);
  }
}

function parse(env: Readonly<Record<string, string | undefined>>, variable: string): { id: string; key: Buffer }[] {
  const raw = env[variable]?.trim();
  if (!raw) return [];
  return raw.split(',').map((entry, i, all) => {
    const where = all.length > 1 ? `${variable}[${i + 1}]` : variable;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new KeyMaterialError(`${where} must be <id>:<base64 of 32 bytes>, e.g. bidx-v1:…`);
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!ID_PATTERN.test(id))
      throw new KeyMaterialError(`${where}: the key id must be 1-64 of [A-Za-z0-9._-], e.g. bidx-v1`);
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64) || b64.length % 4 === 1)
      throw new KeyMaterialError(`${where}: the key is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32) throw new KeyMaterialError(`${where}: the key decodes to ${key.length} bytes, expected 32`);
    return { id, key };
  });
}
