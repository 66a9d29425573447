import { KeyDestroyedError, KeyNotActiveError, KeyScopeError, UnknownKeyError } from './errors';

export const KEY_STATUSES = ['pending', 'active', 'rotating', 'retired', 'destroyed'] as const;
export type KeyStatus = (typeof KEY_STATUSES)[number];

/** Prefix of a Fernet key's catalog id (migration 0005): such keys form a family of their own. */
export const FERNET_KEY_PREFIX = 'fernet:';

/**
 * True for a Fernet key's catalog id. Fernet keys are active beside the
 * active KEK (one active key per scope AND family), never encrypt rk1
 * envelopes and are never the key a tenant's values go under.
 */
export function isFernetKeyId(id: string): boolean {
  return id.startsWith(FERNET_KEY_PREFIX);
}

/** A key as the policy sees it: id, status and optional tenant scope. */
export interface KeyState {
  readonly id: string;
  readonly status: KeyStatus;
  /** null / undefined: the global scope. */
  readonly tenant?: string | null;
}

/**
 * Decides which key may do what. The keyring holds material; the policy holds
 * the lifecycle. rekey checks it itself on every encrypt and decrypt, so a
 * destroyed key is refused even where KMS would still answer.
 *
 * - encrypt: only an `active` key;
 * - decrypt: `active`, `rotating`, `retired`, and `pending` (the rotation
 *   self-test decrypts under a pending key before it is promoted);
 * - `destroyed`: never.
 */
export interface KeyPolicy {
  /**
   * Throws unless `keyId` may encrypt a value of `tenant` (omitted: the check
   * of status only): the key is active; a tenant's own key encrypts only that
   * tenant's values; a tenant with its own active key has every value under
   * it (the global key encrypts only tenants without one).
   */
  assertCanEncrypt(keyId: string, tenant?: string | null): void;
  assertCanDecrypt(keyId: string): void;
  /** The active key new values in this tenant scope go under: the tenant's own, else the global one. */
  encryptionKeyId(tenant?: string | null): string;
  /** The status of a key, or undefined when unknown. */
  statusOf(keyId: string): KeyStatus | undefined;
}

/** A policy over a fixed list of key states (a catalog snapshot, or the keyring's own keys). */
export class StaticKeyPolicy implements KeyPolicy {
  private readonly byId = new Map<string, KeyState>();
  private readonly activeByScope = new Map<string, string>();

  constructor(keys: readonly KeyState[]) {
    for (const key of keys) {
      this.byId.set(key.id, key);
      // The active Fernet key is not a scope's KEK: encryptionKeyId never answers with it.
      if (key.status === 'active' && !isFernetKeyId(key.id)) this.activeByScope.set(scopeOf(key.tenant), key.id);
    }
  }

  /** Primary key active, every other key retired (decrypt-only): the policy of a keyring with no catalog. */
  static fromKeyIds(primary: string, others: readonly string[]): StaticKeyPolicy {
    return new StaticKeyPolicy([
      { id: primary, status: 'active' },
      ...others.filter((id) => id !== primary).map((id) => ({ id, status: 'retired' as const })),
    ]);
  }

  statusOf(keyId: string): KeyStatus | undefined {
    return this.byId.get(keyId)?.status;
  }

  assertCanEncrypt(keyId: string, tenant?: string | null): void {
    const key = this.byId.get(keyId);
    if (!key) throw new UnknownKeyError(keyId);
    if (key.status === 'destroyed') throw new KeyDestroyedError(keyId);
    if (key.status !== 'active') throw new KeyNotActiveError(keyId, key.status);
    if (tenant === undefined) return;
    if (key.tenant != null && key.tenant !== tenant) throw new KeyScopeError(keyId, key.tenant, tenant);
    // A tenant with its own active key: its values go under that key only, so destroying it shreds all of them.
    const own = tenant === null ? undefined : this.activeByScope.get(scopeOf(tenant));
    if (own !== undefined && own !== keyId) throw new KeyScopeError(keyId, key.tenant ?? null, tenant, own);
  }

  assertCanDecrypt(keyId: string): void {
    const key = this.byId.get(keyId);
    if (!key) throw new UnknownKeyError(keyId);
    if (key.status === 'destroyed') throw new KeyDestroyedError(keyId);
  }

  encryptionKeyId(tenant?: string | null): string {
    const id = this.activeByScope.get(scopeOf(tenant)) ?? this.activeByScope.get(scopeOf(null));
    if (id === undefined) {
      throw new KeyNotActiveError(tenant ? `(tenant ${tenant})` : '(global scope)', 'missing: no active key');
    }
    return id;
  }
}

function scopeOf(tenant: string | null | undefined): string {
  return tenant ?? '';
}

/**
 * The catalog's word on a key a legacy value names (a JSON envelope's
 * `key_id`): a destroyed key never decrypts, as for an envelope. A key the
 * catalog does not list is left to the reader, which resolves it or throws
 * UnknownKeyError: legacy key ids predate the catalog.
 */
export function assertLegacyKeyReadable(policy: Pick<KeyPolicy, 'statusOf'>, keyId: string): void {
  if (policy.statusOf(keyId) === 'destroyed') throw new KeyDestroyedError(keyId);
}
