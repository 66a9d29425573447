import { createPgSql, describeConnection, type ConnectionDescription } from '../core/adapters/pg/sql';
import { createPgLiveness } from '../core/adapters/pg/liveness';
import { RUNTIME_ENV } from '../core/environment-names';
import { RekeyError } from '../core/errors';
import { BlindIndex } from '../core/crypto/blind-index';
import { EnvelopeCipher } from '../core/crypto/envelope-cipher';
import type { Keyring, KeyringKind } from '../core/crypto/keyring';
import { RawKeyring } from '../core/crypto/keyrings/raw';
import { FernetReader } from '../core/crypto/legacy/fernet';
import { JsonKeyIdReader } from '../core/crypto/legacy/json-key-id';
import type { LegacyReader } from '../core/crypto/legacy/reader';
import { AuditLog } from '../core/keys/audit';
import { KeyCatalog } from '../core/keys/catalog';
import type { KeyPolicy } from '../core/crypto/key-policy';
import type { SqlPool } from '../core/ports/sql';
import { blindIndexerFrom, valueCryptoFrom } from '../core/reencrypt/values/crypto-bridge';
import type { EngineDeps } from '../core/reencrypt/ports';
import { loadRegistry, parseRegistry, type Registry } from '../core/reencrypt/config/registry';
import { assertSchemaCurrent, migrate } from '../core/schema/migrate';
import { startReaderHeartbeat, type ReaderHeartbeat } from '../core/readers/heartbeat';
import type { ReaderReport } from '../core/readers/store';
import { fernetKeySource, syncKeyringWithCatalog } from './catalog-sync';
import { keyringFromEnv } from './keyring-from-env';
import { testPauseHook } from './test-pause-hook';

export interface EngineRuntimeOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Else DATABASE_URL. Ignored when `sql` is given. */
  readonly databaseUrl?: string;
  /** An existing pool (Lambda: the Data API adapter). */
  readonly sql?: SqlPool;
  /** @default 4 */
  readonly poolSize?: number;
  /** Registry object, or a path; else ./rekey.config.json, else REKEY_REGISTRY_JSON. */
  readonly registry?: Registry | string;
  readonly keyring?: Keyring;
  readonly keyringKind?: KeyringKind;
  readonly keysetSecretId?: string;
  /** Who acts, for the audit log. */
  readonly actor: string;
  /**
   * Register / activate the keyring's keys in the catalog (see catalog-sync.ts);
   * 'preview' only reports what it would change (dry runs).
   * @default true
   */
  readonly syncCatalog?: boolean | 'preview';
  /**
   * Register the Fernet keys (ENCRYPTION_KEY / _FALLBACK) in the catalog even when `syncCatalog`
   * is false: a keyless Lambda function given the legacy keys.
   * @default syncCatalog !== false
   */
  readonly syncFernetKeys?: boolean;
  /** Some commands (migrate, keys) work without a registry. @default true */
  readonly needsRegistry?: boolean;
  /**
   * Apply rekey's pending migrations (idempotent, under an advisory lock)
   * instead of refusing a database whose schema is behind: the first state of
   * an execution does, so a fresh database needs no separate setup step.
   * @default false — a schema behind the code is a SchemaError
   */
  readonly applyMigrations?: boolean;
  /**
   * Register this process as a reader of the rollout gate (rekey_readers):
   * a heartbeat at start and every REKEY_READER_HEARTBEAT_SECONDS (default
   * 60), removed by close(). REKEY_READER_HEARTBEAT=off switches it off.
   * @default false (the CLI passes 'cli', the Lambda handlers 'lambda')
   */
  readonly reader?: ReaderReport['kind'] | false;
}

export interface EngineRuntime {
  readonly sql: SqlPool;
  readonly connection?: ConnectionDescription;
  readonly keyring: Keyring;
  readonly catalog: KeyCatalog;
  readonly audit: AuditLog;
  readonly registry: Registry;
  readonly legacyReaders: readonly LegacyReader[];
  /** The engine's dependencies; `deps.crypto` always checks the current catalog policy. */
  readonly deps: EngineDeps;
  readonly catalogChanges: readonly string[];
  /** The key every value should end under: the catalog's active global key. */
  primaryKeyId(): string;
  /** The primary Fernet key's catalog id (ENCRYPTION_KEY), the target of Fernet tables; undefined when no Fernet key is set. */
  fernetPrimaryKeyId(): string | undefined;
  /** The catalog policy in force (refreshPolicy() re-reads it). */
  readonly policy: KeyPolicy;
  keyIds(): Promise<readonly string[]>;
  /** Re-reads the catalog policy (after activate/rollback). */
  refreshPolicy(): Promise<void>;
  /** This process's reader heartbeat, when it registers as one. */
  readonly reader?: ReaderHeartbeat;
  close(): Promise<void>;
}

/**
 * Builds what the engine runs on from flags and the environment: the database
 * pool, the keyring, the catalog synced with it, the cipher under the
 * catalog's policy, legacy readers (Fernet when ENCRYPTION_KEY is set; JSON
 * key_id over the raw keyring's KEKs), the blind index (BLIND_INDEX_KEY) and
 * the registry. Shared by the CLI, the demo, the benchmarks and the local
 * runtime, so they all run the same code.
 */
export async function createEngineRuntime(options: EngineRuntimeOptions): Promise<EngineRuntime> {
  const env = options.env ?? process.env;
  const { sql, connection, liveness } = openDatabase(options, env);
  try {
    if (options.applyMigrations) await migrate(sql);
    else await assertSchemaCurrent(sql);
    const keyring =
      options.keyring ?? keyringFromEnv(env, { kind: options.keyringKind, keysetSecretId: options.keysetSecretId });
    const audit = new AuditLog(sql);
    const catalog = new KeyCatalog(sql, { audit });
    const fernet = FernetReader.configured(env) ? FernetReader.fromEnv(env) : undefined;
    const catalogChanges = await syncCatalog(sql, keyring, fernet, options);
    const previewPrimary =
      options.syncCatalog === 'preview' && catalogChanges.length > 0 ? await keyring.primaryKeyId() : undefined;
    const { policy: policyProxy, refresh: refreshPolicy } = await livePolicy(catalog);
    const cipher = new EnvelopeCipher({ keyring, policy: policyProxy });
    const legacyReaders = legacyReadersFor(fernet, keyring);
    const registry = options.needsRegistry === false ? { tables: [] } : resolveRegistry(options.registry, env);
    const deps: EngineDeps = {
      sql,
      registry,
      crypto: valueCryptoFrom({ cipher, legacyReaders }),
      blindIndex: BlindIndex.configured(env) ? blindIndexerFrom(BlindIndex.fromEnv(env)) : undefined,
      audit,
      catalog: catalogPort(catalog),
      refreshKeys: refreshPolicy,
      liveness,
      faults: testPauseHook(env),
    };
    const pool = sql;
    const reader = options.reader
      ? await startReaderHeartbeat({ sql, kind: options.reader, keyring, policy: policyProxy, env })
      : undefined;
    return {
      sql: pool,
      ...(connection ? { connection } : {}),
      keyring,
      catalog,
      audit,
      registry,
      legacyReaders,
      deps,
      catalogChanges,
      // Previewed (dry run): the key the catalog sync would make active, which is what a real run would target.
      primaryKeyId: () => previewPrimary ?? policyProxy.encryptionKeyId(null),
      fernetPrimaryKeyId: () => fernet?.primaryKeyId(),
      policy: policyProxy,
      keyIds: () => keyring.keyIds(),
      refreshPolicy,
      ...(reader ? { reader } : {}),
      close: async () => {
        await reader?.stop();
        await liveness?.close();
        if (!options.sql) await pool.close();
      },
    };
  } catch (err) {
    if (!options.sql) await sql.close().catch(() => undefined);
    throw err;
  }
}

/** The given pool, or a pool (and a liveness session) on the database URL of the flags or the environment. */
function openDatabase(
  options: EngineRuntimeOptions,
  env: NodeJS.ProcessEnv,
): {
  sql: SqlPool;
  connection: ConnectionDescription | undefined;
  liveness: ReturnType<typeof createPgLiveness> | undefined;
} {
  let connection: ConnectionDescription | undefined;
  let sql = options.sql;
  let liveness: ReturnType<typeof createPgLiveness> | undefined;
  if (!sql) {
    const url = options.databaseUrl ?? env[RUNTIME_ENV.databaseUrl];
    if (!url)
      throw new RuntimeConfigError(
        'no database: pass --database-url or set DATABASE_URL (postgres://user:pass@host:5432/db)',
      );
    connection = describeConnection(url, env);
    sql = createPgSql({ connectionString: url, max: options.poolSize ?? 4, env });
    // Runners on their own sessions can prove they are alive (and, killed, gone): reencrypt/lease-takeover.ts.
    liveness = createPgLiveness({ connectionString: url, env });
  }
  return { sql, connection, liveness };
}

/** Syncs the keyring's keys (and the Fernet keys) into the catalog, or previews it; the changes made or previewed. */
async function syncCatalog(
  sql: SqlPool,
  keyring: Keyring,
  fernet: FernetReader | undefined,
  options: EngineRuntimeOptions,
): Promise<Awaited<ReturnType<typeof syncKeyringWithCatalog>>['changes']> {
  const apply = { apply: options.syncCatalog !== 'preview' };
  const syncFernet = fernet !== undefined && (options.syncFernetKeys ?? options.syncCatalog !== false);
  return [
    ...(options.syncCatalog === false
      ? []
      : (await syncKeyringWithCatalog(sql, keyring, options.actor, apply)).changes),
    // Fernet keys join the catalog as their own family: the primary active, fallbacks rotating until verify retires them.
    ...(syncFernet ? (await syncKeyringWithCatalog(sql, fernetKeySource(fernet), options.actor, apply)).changes : []),
  ];
}

/**
 * The catalog's policy behind one stable object: `refresh` reloads what it
 * delegates to, so the cipher and the reader heartbeat, which hold the
 * object, see key changes without being rebuilt.
 */
async function livePolicy(catalog: KeyCatalog): Promise<{ policy: KeyPolicy; refresh: () => Promise<void> }> {
  let policy: KeyPolicy = await catalog.policy();
  const policyProxy: KeyPolicy = {
    assertCanEncrypt: (id, tenant) => policy.assertCanEncrypt(id, tenant),
    assertCanDecrypt: (id) => policy.assertCanDecrypt(id),
    encryptionKeyId: (tenant) => policy.encryptionKeyId(tenant),
    statusOf: (id) => policy.statusOf(id),
  };
  const refreshPolicy = async (): Promise<void> => {
    policy = await catalog.policy();
  };
  return { policy: policyProxy, refresh: refreshPolicy };
}

/** Readers for legacy values: Fernet when ENCRYPTION_KEY is set; JSON key_id over the raw keyring's KEKs. */
function legacyReadersFor(fernet: FernetReader | undefined, keyring: Keyring): LegacyReader[] {
  const legacyReaders: LegacyReader[] = [];
  if (fernet) legacyReaders.push(fernet);
  if (keyring instanceof RawKeyring) legacyReaders.push(new JsonKeyIdReader((id) => keyring.kekFor(id)));
  return legacyReaders;
}

/** The engine's view of the catalog: list, and transitions whose returned keys it does not need. */
function catalogPort(catalog: KeyCatalog): NonNullable<EngineDeps['catalog']> {
  return {
    list: () => catalog.list(),
    transition: async (id, to, actor) => {
      await catalog.transition(id, to, actor);
    },
    activate: async (id, actor) => {
      await catalog.activate(id, actor);
    },
  };
}

/** The runtime's configuration (registry, keyring variables) is missing or wrong. Not retryable: someone has to fix it. */
export class RuntimeConfigError extends RekeyError {
  readonly code = 'RUNTIME_CONFIG';
}

function resolveRegistry(registry: Registry | string | undefined, env: NodeJS.ProcessEnv): Registry {
  if (registry && typeof registry !== 'string') return registry;
  if (typeof registry === 'string') return loadRegistry(registry);
  const json = env[RUNTIME_ENV.registryJson];
  if (json) return parseRegistry(JSON.parse(json) as unknown, RUNTIME_ENV.registryJson);
  return loadRegistry();
}
