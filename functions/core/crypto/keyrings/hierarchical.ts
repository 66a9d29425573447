import type { KmsPort } from '../../ports/kms';
import { AWSCURRENT, type SecretsPort } from '../../ports/secrets';
import { KEY_BYTES } from '../aead';
import { KeyMaterialError, KeyringUnavailableError, UnknownKeyError } from '../errors';
import type { GeneratedDataKey, Keyring, KeyringStats, RewrapArgs, WrapContext } from '../keyring';
import { randomPool } from '../random-pool';
import { parseKeyset } from './keyset-document';
import { unwrapKeks } from './keyset-unwrap';
import { unwrapLocal, wrapLocal } from './local-wrap';

/** How long an unwrapped keyset is used before it is fetched again, unless configured. */
export const DEFAULT_KEYSET_TTL_MS = 5 * 60 * 1000;
/** Upper bound on the TTL: disabling the KMS key must cut access within a bounded time. */
export const MAX_KEYSET_TTL_MS = 24 * 60 * 60 * 1000;
/** At most one reload per this interval is triggered by a key id missing from the cached keyset. */
export const DEFAULT_MISS_RELOAD_INTERVAL_MS = 1000;
/** Reload rounds one call may sit through when refresh() keeps discarding loads. */
const MAX_LOAD_ROUNDS = 3;

export interface HierarchicalKeyringOptions {
  readonly kms: KmsPort;
  readonly secrets: SecretsPort;
  /** Name or ARN of the keyset secret. */
  readonly secretId: string;
  /** AWSCURRENT (default); the rotation self-test reads AWSPENDING. Always sent. */
  readonly versionStage?: string;
  /** Pin one secret version as well (the rotation hook passes its token). */
  readonly versionId?: string;
  /** Default 5 minutes; at most 24 hours. */
  readonly cacheTtlMs?: number;
  /** Default 1 s. 0 disables reloading on a missing key id. */
  readonly missReloadIntervalMs?: number;
  /** Clock in milliseconds, for tests. */
  readonly now?: () => number;
}

/** A keyset with its KEKs unwrapped: held until replaced, then zeroed. */
interface LoadedKeyset {
  readonly versionId: string;
  readonly primary: string;
  /** Primary first. */
  readonly ids: readonly string[];
  readonly keks: Map<string, Buffer>;
  readonly loadedAt: number;
  /** Set once the KEKs are zeroed; a holder must fetch the current keyset again. */
  disposed: boolean;
}

/**
 * KEK hierarchy: KMS key → KEK versions (the keyset secret) → a random data
 * key per value. The keyset is fetched from Secrets Manager (always naming
 * the version stage) and its KEKs unwrapped by KMS once per TTL — one
 * GetSecretValue and one Decrypt per KEK — and concurrent callers share one
 * load. Between loads every wrap, unwrap and rewrap is local AES-256-GCM (the
 * same bytes as the raw keyring): rewrapping a million rows costs no KMS call.
 *
 * Disabling the KMS key (or denying kms:Decrypt) cuts access within one TTL.
 * A replaced or refreshed keyset's KEKs are zeroed; each operation checks and
 * uses its KEK in one synchronous step, so it never sees a zeroed key.
 */
export class HierarchicalKeyring implements Keyring {
  readonly kind = 'hierarchical' as const;
  private readonly kms: KmsPort;
  private readonly secrets: SecretsPort;
  private readonly secretId: string;
  private readonly versionStage: string;
  private readonly versionId: string | undefined;
  private readonly ttlMs: number;
  private readonly missReloadIntervalMs: number;
  private readonly now: () => number;
  private readonly counts: KeyringStats = { kmsCalls: 0, secretsManagerCalls: 0 };

  private cache: LoadedKeyset | undefined;
  private inflight: Promise<LoadedKeyset> | undefined;
  /** Bumped by refresh(): a load started before it is discarded when it lands. */
  private generation = 0;
  private lastMissReload = Number.NEGATIVE_INFINITY;

  constructor(options: HierarchicalKeyringOptions) {
    const ttl = options.cacheTtlMs ?? DEFAULT_KEYSET_TTL_MS;
    const missInterval = options.missReloadIntervalMs ?? DEFAULT_MISS_RELOAD_INTERVAL_MS;
    const problems: string[] = [];
    if (typeof options.secretId !== 'string' || options.secretId === '')
      problems.push('secretId: expected the keyset secret name or ARN');
    if (
      options.versionStage !== undefined &&
      (typeof options.versionStage !== 'string' || options.versionStage === '')
    ) {
      problems.push('versionStage: expected a stage label such as AWSCURRENT or AWSPENDING');
    }
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_KEYSET_TTL_MS)
      problems.push(`cacheTtlMs: expected 1-${MAX_KEYSET_TTL_MS} ms, got ${ttl}`);
    if (!Number.isFinite(missInterval) || missInterval < 0)
      problems.push(`missReloadIntervalMs: expected 0 or more ms, got ${missInterval}`);
    if (problems.length > 0)
      throw new KeyMaterialError(`hierarchical keyring configuration is invalid: ${problems.join('; ')}`);
    this.kms = options.kms;
    this.secrets = options.secrets;
    this.secretId = options.secretId;
    this.versionStage = options.versionStage ?? AWSCURRENT;
    this.versionId = options.versionId;
    this.ttlMs = ttl;
    this.missReloadIntervalMs = missInterval;
    this.now = options.now ?? Date.now;
  }

  async keyIds(): Promise<readonly string[]> {
    return this.withKeyset([], (ks) => ks.ids);
  }

  async primaryKeyId(): Promise<string> {
    return this.withKeyset([], (ks) => ks.primary);
  }

  /** The secret version the cached keyset came from (loads it when needed). */
  async versionIdInUse(): Promise<string> {
    return this.withKeyset([], (ks) => ks.versionId);
  }

  async generateDataKey(keyId: string, wrapContext: WrapContext): Promise<GeneratedDataKey> {
    return this.withKeyset([keyId], (ks) => {
      const plaintext = randomPool.bytes(KEY_BYTES);
      try {
        return { keyId, plaintext, wrapped: wrapLocal(kekOf(ks, keyId), plaintext, wrapContext.aad) };
      } catch (err) {
        plaintext.fill(0);
        throw err;
      }
    });
  }

  async unwrapDataKey(keyId: string, wrapped: Buffer, wrapContext: WrapContext): Promise<Buffer> {
    return this.withKeyset([keyId], (ks) => unwrapLocal(kekOf(ks, keyId), wrapped, wrapContext.aad));
  }

  async rewrapDataKey(...[keyId, wrapped, wrapContext, targetKeyId, targetContext]: RewrapArgs): Promise<Buffer> {
    return this.withKeyset([keyId, targetKeyId], (ks) => {
      const dataKey = unwrapLocal(kekOf(ks, keyId), wrapped, wrapContext.aad);
      try {
        return wrapLocal(kekOf(ks, targetKeyId), dataKey, targetContext.aad);
      } finally {
        dataKey.fill(0);
      }
    });
  }

  /** Zeroes the cached KEKs and discards any load in flight; the next use fetches the keyset again. */
  async refresh(): Promise<void> {
    this.generation += 1;
    this.inflight = undefined;
    if (this.cache) dispose(this.cache);
    this.cache = undefined;
  }

  stats(): KeyringStats {
    return { ...this.counts };
  }

  /**
   * Runs `use` on the current keyset once every id in `needs` is in it.
   * `use` is synchronous and runs in the same step as the `disposed` check,
   * so a KEK is never zeroed under it. A missing id reloads the keyset once
   * (rate-limited): another worker may have rotated since our load.
   */
  private async withKeyset<T>(needs: readonly string[], use: (ks: LoadedKeyset) => T): Promise<T> {
    let missReloaded = false;
    let reloadNow = false;
    for (let round = 0; round < MAX_LOAD_ROUNDS + 1; round += 1) {
      // A miss reloads for this caller only: if that load fails, the cached
      // keyset (still within its TTL) keeps serving every other key.
      const ks = reloadNow ? await this.startLoad() : await this.current();
      reloadNow = false;
      if (ks.disposed) continue;
      const missing = needs.find((id) => !ks.keks.has(id));
      if (missing === undefined) return use(ks);
      const now = this.now();
      if (missReloaded || this.missReloadIntervalMs === 0 || now - this.lastMissReload < this.missReloadIntervalMs) {
        throw new UnknownKeyError(missing);
      }
      missReloaded = true;
      this.lastMissReload = now;
      reloadNow = true;
    }
    throw new KeyringUnavailableError(
      `the keyset in secret ${JSON.stringify(this.secretId)} was refreshed ${MAX_LOAD_ROUNDS} times while loading; retry`,
    );
  }

  private current(): LoadedKeyset | Promise<LoadedKeyset> {
    const ks = this.cache;
    if (ks !== undefined && !ks.disposed && this.now() - ks.loadedAt < this.ttlMs) return ks;
    return this.startLoad();
  }

  /** The load in flight, or a new one: concurrent callers share one Secrets Manager call. */
  private startLoad(): Promise<LoadedKeyset> {
    if (this.inflight === undefined) {
      const load = this.load(this.generation);
      this.inflight = load;
      const clear = (): void => {
        if (this.inflight === load) this.inflight = undefined;
      };
      load.then(clear, clear);
    }
    return this.inflight;
  }

  private async load(generation: number): Promise<LoadedKeyset> {
    let loaded: LoadedKeyset;
    try {
      loaded = await this.fetchAndUnwrap();
    } catch (err) {
      // An expired keyset stays unusable until a load succeeds: zero it now
      // (e.g. the KMS key was disabled) rather than keep dead KEKs in memory.
      const expired = this.cache;
      if (expired !== undefined && this.now() - expired.loadedAt >= this.ttlMs) {
        dispose(expired);
        this.cache = undefined;
      }
      throw err;
    }
    if (generation !== this.generation) {
      // refresh() ran meanwhile: this load may predate a rotation. Its callers see `disposed` and load again.
      dispose(loaded);
      return loaded;
    }
    const previous = this.cache;
    this.cache = loaded;
    if (previous !== undefined && previous !== loaded) dispose(previous);
    return loaded;
  }

  private async fetchAndUnwrap(): Promise<LoadedKeyset> {
    const source = `secret ${JSON.stringify(this.secretId)} (${this.versionStage}${this.versionId ? ` ${this.versionId}` : ''})`;
    this.counts.secretsManagerCalls += 1;
    const secret = await this.secrets.getSecretValue({
      secretId: this.secretId,
      versionStage: this.versionStage,
      versionId: this.versionId,
    });
    const keyset = parseKeyset(secret.string, source);
    this.counts.kmsCalls += keyset.keys.length;
    const keks = await unwrapKeks(this.kms, keyset, source);
    return {
      versionId: secret.versionId,
      primary: keyset.primary,
      ids: [keyset.primary, ...keyset.keys.map((k) => k.id).filter((id) => id !== keyset.primary)],
      keks,
      loadedAt: this.now(),
      disposed: false,
    };
  }
}

function kekOf(ks: LoadedKeyset, keyId: string): Buffer {
  const kek = ks.keks.get(keyId);
  if (kek === undefined) throw new UnknownKeyError(keyId);
  return kek;
}

function dispose(ks: LoadedKeyset): void {
  ks.disposed = true;
  for (const kek of ks.keks.values()) kek.fill(0);
  ks.keks.clear();
}
