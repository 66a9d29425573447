import type { EncryptionContext } from '../crypto/context';
import type { KeyState, KeyStatus } from '../keys/policy';
import type { Sql } from '../ports/sql';
import type { RunnerLiveness } from './jobs/lease-takeover';
import type { Registry } from './config/registry';
import type { TableShapeCache } from './sql/table-shape';

/**
 * What the engine needs from the rest of rekey, kept narrow so the engine can
 * be exercised with the real crypto (see crypto-bridge.ts) or with a fake in
 * unit tests. The engine never sees key material: only envelopes, key ids and
 * the plaintext it holds in memory for the instant of a re-encryption.
 */

/** A stored value as PostgreSQL returns it: text/varchar → string, bytea → Buffer. */
export type StoredValue = string | Buffer;

/** What a stored value is, from its shape alone (no decryption). */
export type ValueClass =
  | { readonly kind: 'envelope'; readonly keyId: string }
  /** keyId: which configured Fernet key's HMAC verifies it (`fernet:<fingerprint>`), when a Fernet reader is configured. */
  | { readonly kind: 'fernet'; readonly keyId?: string }
  | { readonly kind: 'json-key-id'; readonly keyId?: string }
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'null' };

export type LegacyKind = 'fernet' | 'json-key-id';

/**
 * Value-level crypto the engine calls. Every method keeps the storage form:
 * a text value comes back as a text envelope, a Buffer as a binary one.
 */
export interface ValueCrypto {
  classify(value: StoredValue | null): ValueClass;
  /** Same plaintext and data key; the data key re-wrapped under `targetKeyId`. */
  rewrap(value: StoredValue, context: EncryptionContext, targetKeyId: string): Promise<StoredValue>;
  /** Same plaintext under a new data key and ciphertext, wrapped under `targetKeyId`. */
  reencrypt(value: StoredValue, context: EncryptionContext, targetKeyId: string): Promise<StoredValue>;
  /** The plaintext of an envelope (verify --decrypt, blind index recomputation). */
  decrypt(value: StoredValue, context: EncryptionContext): Promise<Buffer>;
  /** A new envelope of `plaintext` under `targetKeyId`, as text or binary for the column it goes to. */
  encrypt(
    plaintext: Buffer,
    context: EncryptionContext,
    targetKeyId: string,
    form: 'text' | 'binary',
  ): Promise<StoredValue>;
  /** The plaintext of a legacy value (Fernet token, JSON key_id envelope). */
  decryptLegacy(value: StoredValue, kind: LegacyKind): Promise<Buffer>;
  /**
   * A new value of `plaintext` in a legacy format under `targetKeyId` (a
   * Fernet key id `fernet:<fingerprint>`, or a `kek-vN`): in-place rotation
   * and encrypt mode of tables whose application reads that format. For
   * Fernet, `timestamp` (seconds) keeps the original token's time, as
   * MultiFernet.rotate does. Text; the caller stores its UTF-8 bytes in a
   * bytea column. Optional so test fakes without legacy formats stay small.
   */
  encryptLegacy?(
    plaintext: Buffer,
    kind: LegacyKind,
    targetKeyId: string,
    options?: { readonly timestamp?: number | undefined },
  ): Promise<string>;
}

/** Blind index (HMAC) of a plaintext, for equality lookups; the same form (text/binary) as its column. */
export interface BlindIndexer {
  index(
    plaintext: Buffer,
    where: { readonly table: string; readonly column: string },
    form: 'text' | 'binary',
  ): StoredValue | Promise<StoredValue>;
  /** True when a stored index was made with the current blind index key (nothing to recompute). */
  isCurrent?(stored: StoredValue): boolean;
}

/**
 * The part of the key catalog that retire and rollback use. KeyCatalog
 * (keys/catalog.ts) satisfies it as it is; it writes the key.* audit rows itself.
 */
export interface KeyLifecycle {
  /** Every key of the catalog (all tenants). */
  list(): Promise<readonly KeyState[]>;
  /** Moves a key along its lifecycle (rotating → retired, ...); throws on an invalid transition. */
  transition(
    keyId: string,
    to: KeyStatus,
    actor: string,
    details?: Readonly<Record<string, unknown>>,
  ): Promise<unknown>;
  /** Makes `keyId` the active key of its scope; the previously active key becomes `rotating`. */
  activate(keyId: string, actor: string): Promise<unknown>;
}

/** One audit event: who did what to which job or key. Ids and counts only, never values. */
export interface AuditEvent {
  readonly actor: string;
  /** e.g. `job.created`, `job.aborted`, `key.retired` */
  readonly action: string;
  /** e.g. `job:<uuid>`, `key:kek-v2` */
  readonly subject: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly tenant?: string | null;
}

/** Writes audit events, in the caller's transaction when one is given. AuditLog (keys/audit.ts) satisfies it. */
export interface AuditSink {
  record(sql: Sql, event: AuditEvent): Promise<void>;
}

/**
 * Test hook: called at named points inside the planner, the executor and the
 * runner. A test throws from it to simulate a crash there (InjectedFaultError).
 */
export type FaultHook = (point: string, where?: FaultSite) => void | Promise<void>;

/** Where a fault point is: the batch being worked on, when there is one. Ids only. */
export interface FaultSite {
  readonly jobId?: string;
  readonly table?: string;
  readonly seq?: number;
  readonly lo?: string | null;
  readonly hi?: string | null;
  /** Rows re-read after a lost compare-and-swap (batch.retransformed). */
  readonly rowIds?: readonly string[];
}

/** What a batch run needs: the runners' shared dependencies. */
export interface ExecutorDeps {
  readonly sql: Sql;
  readonly registry: Registry;
  readonly crypto: ValueCrypto;
  readonly blindIndex?: BlindIndexer | undefined;
  readonly audit?: AuditSink | undefined;
  /** Test hook: throw from it to simulate a crash at a named point. */
  readonly faults?: FaultHook | undefined;
  /** Lease holder name; default host/pid/random. */
  readonly worker?: string | undefined;
  /** How long a claimed batch stays leased without a heartbeat. Default 5 minutes. */
  readonly leaseMs?: number | undefined;
  /** Claims of a failed batch before it stays failed. Default 5. */
  readonly maxAttempts?: number | undefined;
  /** Crypto calls in flight per batch (matters for the kms keyring). Default 16. */
  readonly cryptoConcurrency?: number | undefined;
  /** Shared cache of table shapes; one per worker is plenty. */
  readonly shapes?: TableShapeCache | undefined;
}

/**
 * Everything the engine runs on, built once per process (CLI, Lambda worker,
 * test) and passed down: the Sql pool, the registry, the value crypto, and
 * optionally the blind indexer, the audit sink, the key catalog (for retire
 * and rollback) and test fault hooks.
 */
export interface EngineDeps extends ExecutorDeps {
  /** Rows per page of keyset walks (planner scan, verify). Default 2,000. */
  readonly pageSize?: number | undefined;
  /** The key catalog: retire after a clean verify, rollback. Without it, keys are left as they are. */
  readonly catalog?: KeyLifecycle | undefined;
  /**
   * Called after the engine changed which key is active (rollback), so the
   * caller reloads the key policy its cipher checks (KeyCatalog.policy() is a
   * snapshot): the rewrap that follows must be allowed to encrypt under the
   * newly active key.
   */
  readonly refreshKeys?: (() => Promise<void>) | undefined;
  /**
   * Liveness locks (lease-takeover.ts): a runner holding one can be proven
   * gone after a crash, so a resumed run takes its leases over at once.
   * Without it, other holders' leases are waited for until they expire.
   */
  readonly liveness?: RunnerLiveness | undefined;
}
