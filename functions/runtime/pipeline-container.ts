import type { KeyringKind } from '../core/crypto/keyring';
import { ENV, ENV_DEFAULTS, RUNTIME_ENV } from '../core/environment-names';
import type { StuckBatchOptions } from '../core/pipeline/stuck-batches';
import type { QueuePort } from '../core/ports/queues';
import { parseRegistry } from '../core/reencrypt/config/registry';
import { ensureExampleTable } from '../core/schema/example-table';
import { awsPorts } from './aws-ports';
import { createEngineRuntime, type EngineRuntime } from './engine-runtime';
import { KeylessKeyring } from './keyless-keyring';
import { containerSql } from './lambda-database';
import { readLegacyKeys } from './legacy-keys';
import { memoize } from './memoize';
import { jobQueueUrl, stuckBatchSettings } from './pipeline-settings';

/**
 * The container of the pipeline's Lambda functions (ValidateInput, Plan,
 * Enqueue, Worker, CheckProgress, Verify, Finalize, Abort, MarkFailed,
 * Inventory): everything a handler takes, built on first use and reused by
 * later invocations (functions/runtime/memoize.ts; a failed build is retried
 * by the next invocation).
 *
 * The engine runtime: the database is the Data API (DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME) on AWS, or DATABASE_URL (the local runtime and
 * tests); the keyring is KEYRING_KIND with KEYSET_SECRET_ARN / KMS_KEY_ARN;
 * the registry is REKEY_REGISTRY; the keys of Fernet tables come from the
 * legacy keys secret (LEGACY_KEYS_SECRET_ARN), read here once per container.
 * REKEY_TRIAL_EXAMPLE_TABLE=true (set by a trial stack only) creates the
 * example table first, so a trial execution and the daily inventory find it.
 */
/** The `applyMigrations` of the call that builds the runtime (read by the build only; later calls reuse it as built). */
let applyMigrations = false;
const runtime = memoize(() => buildEngineRuntime(process.env, applyMigrations), {
  dispose: (built) => built.close(),
});

/** The AWS ports, built again when AWS_ENDPOINT_URL_SQS changes (the local runtime points it at moto). */
const aws = memoize(() => awsPorts(), { key: () => process.env[RUNTIME_ENV.sqsEndpoint] });

/**
 * The engine runtime. `applyMigrations` (ValidateInput, the first state)
 * brings the database up to rekey's schema when this call builds it.
 */
export function pipelineRuntime(options: { readonly applyMigrations?: boolean } = {}): Promise<EngineRuntime> {
  applyMigrations = options.applyMigrations ?? false;
  return runtime.get();
}

/** Enqueue's batch queue (JOB_QUEUE_URL) and the port that sends to it. */
export function batchQueue(): { readonly queues: QueuePort; readonly queueUrl: string } {
  return { queueUrl: jobQueueUrl(), queues: aws.get().queues() };
}

/** CheckProgress's stuck-batch check, or undefined when the function has no DEAD_LETTER_QUEUE_URL. */
export function stuckBatchCheck(): (StuckBatchOptions & { readonly queues: QueuePort }) | undefined {
  const settings = stuckBatchSettings();
  return settings && { ...settings, queues: aws.get().queues() };
}

/** Tests, the local runtime: close and forget what the container holds; the next invocation builds anew. */
export async function resetPipelineContainer(): Promise<void> {
  await Promise.all([runtime.reset(), aws.reset()]);
}

async function buildEngineRuntime(env: NodeJS.ProcessEnv, applyMigrations: boolean): Promise<EngineRuntime> {
  const name = env[RUNTIME_ENV.lambdaFunctionName] ?? ENV_DEFAULTS.lambdaFunctionName;
  // Functions deployed without key access (least privilege) work on ids and counts through the catalog only.
  const keyless = !env[ENV.keyringKind];
  const kind = (env[ENV.keyringKind] ?? 'hierarchical') as KeyringKind;
  const keyEnv: NodeJS.ProcessEnv = { ...env };
  if (kind === 'kms' && !env[RUNTIME_ENV.kmsKeys] && env[ENV.kmsKeyArn])
    keyEnv[RUNTIME_ENV.kmsKeys] = `${env[RUNTIME_ENV.kmsKeyId] ?? ENV_DEFAULTS.kmsKeyId}=${env[ENV.kmsKeyArn]}`;
  const legacySecret = env[ENV.legacyKeysSecretArn];
  if (legacySecret) {
    // The application's own variables, only in this object (never logged, never in the function configuration).
    Object.assign(keyEnv, await readLegacyKeys(aws.get().secrets(), legacySecret));
  }
  const databaseUrl = env[RUNTIME_ENV.databaseUrl];
  const sql = databaseUrl ? undefined : containerSql(env);
  const built = await createEngineRuntime({
    env: keyEnv,
    ...(sql ? { sql } : { databaseUrl: databaseUrl!, poolSize: 2 }),
    // A keyless function given the legacy keys still registers the Fernet keys (ValidateInput, before Plan targets the active one).
    ...(keyless
      ? { keyring: new KeylessKeyring(name), syncCatalog: false, syncFernetKeys: Boolean(legacySecret) }
      : { keyringKind: kind }),
    ...(env[ENV.keysetSecretArn] ? { keysetSecretId: env[ENV.keysetSecretArn] } : {}),
    registry: parseRegistry(
      env[ENV.registry] ? (JSON.parse(env[ENV.registry]!) as unknown) : { tables: [] },
      ENV.registry,
    ),
    actor: `lambda:${name}`,
    // Functions with key access decrypt: they report what they can read (keyless ones read nothing).
    reader: keyless ? false : 'lambda',
    applyMigrations,
  });
  if (env[ENV.trialExampleTable] === 'true') {
    try {
      await ensureExampleTable(built.sql);
    } catch (err) {
      await built.close().catch(() => undefined);
      throw err;
    }
  }
  return built;
}
