import { ENV } from '../../../lib/environment';
import type { KeyringKind } from '../../core/crypto/keyring';
import { parseRegistry } from '../../core/reencrypt/config/registry';
import { createEngineRuntime, type EngineRuntime } from '../../runtime/engine-runtime';
import { KeylessKeyring } from '../../runtime/keyless-keyring';
import { readLegacyKeysFromAws } from '../../runtime/legacy-keys';
import { ensureExampleTable } from '../../core/schema/example-table';
import { containerSql } from './sql';

/**
 * The engine runtime of a Lambda container, built on first use and reused by
 * later invocations. The database is the Data API (DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME) on AWS, or DATABASE_URL (the local runtime and
 * tests); the keyring is KEYRING_KIND with KEYSET_SECRET_ARN / KMS_KEY_ARN;
 * the registry is REKEY_REGISTRY; the keys of Fernet tables come from the
 * legacy keys secret (LEGACY_KEYS_SECRET_ARN), read here once per container.
 * REKEY_TRIAL_EXAMPLE_TABLE=true (set by a
 * trial stack only) creates the example table first, so a trial execution
 * and the daily inventory find it.
 */
let cached: Promise<EngineRuntime> | undefined;

export function containerRuntime(
  env: NodeJS.ProcessEnv = process.env,
  options: { readonly applyMigrations?: boolean } = {},
): Promise<EngineRuntime> {
  cached ??= build(env, options.applyMigrations ?? false).catch((err: unknown) => {
    cached = undefined; // a failed start-up (throttled KMS, say) is retried by the next invocation
    throw err;
  });
  return cached;
}

/** Tests: forget the cached runtime (and close it). */
export async function resetContainerRuntime(): Promise<void> {
  const current = cached;
  cached = undefined;
  // A build that failed has nothing to close.
  if (current) await (await current.catch(() => undefined))?.close().catch(() => undefined);
}

async function build(env: NodeJS.ProcessEnv, applyMigrations: boolean): Promise<EngineRuntime> {
  const name = env.AWS_LAMBDA_FUNCTION_NAME ?? 'rekey-pipeline';
  // Functions deployed without key access (least privilege) work on ids and counts through the catalog only.
  const keyless = !env.KEYRING_KIND;
  const kind = (env.KEYRING_KIND ?? 'hierarchical') as KeyringKind;
  const keyEnv: NodeJS.ProcessEnv = { ...env };
  if (kind === 'kms' && !env.REKEY_KMS_KEYS && env.KMS_KEY_ARN)
    keyEnv.REKEY_KMS_KEYS = `${env.REKEY_KMS_KEY_ID ?? 'kms-v1'}=${env.KMS_KEY_ARN}`;
  const legacySecret = env[ENV.legacyKeysSecretArn];
  if (legacySecret) {
    // The application's own variables, only in this object (never logged, never in the function configuration).
    Object.assign(keyEnv, await readLegacyKeysFromAws(legacySecret));
  }
  const sql = env.DATABASE_URL ? undefined : containerSql(env);
  const runtime = await createEngineRuntime({
    env: keyEnv,
    ...(sql ? { sql } : { databaseUrl: env.DATABASE_URL!, poolSize: 2 }),
    // A keyless function given the legacy keys still registers the Fernet keys (ValidateInput, before Plan targets the active one).
    ...(keyless
      ? { keyring: new KeylessKeyring(name), syncCatalog: false, syncFernetKeys: Boolean(legacySecret) }
      : { keyringKind: kind }),
    ...(env.KEYSET_SECRET_ARN ? { keysetSecretId: env.KEYSET_SECRET_ARN } : {}),
    registry: parseRegistry(
      env.REKEY_REGISTRY ? (JSON.parse(env.REKEY_REGISTRY) as unknown) : { tables: [] },
      'REKEY_REGISTRY',
    ),
    actor: `lambda:${name}`,
    // Functions with key access decrypt: they report what they can read (keyless ones read nothing).
    reader: keyless ? false : 'lambda',
    applyMigrations,
  });
  if (env.REKEY_TRIAL_EXAMPLE_TABLE === 'true') {
    try {
      await ensureExampleTable(runtime.sql);
    } catch (err) {
      await runtime.close().catch(() => undefined);
      throw err;
    }
  }
  return runtime;
}
