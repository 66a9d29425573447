import { createDataApiSql } from '../core/adapters/data-api/sql';
import { createPgSql } from '../core/adapters/pg/sql';
import type { KeyringKind } from '../core/crypto/keyring';
import { RUNTIME_ENV } from '../core/environment-names';
import type { SqlPool } from '../core/ports/sql';
import type { Registry } from '../core/reencrypt/config/registry';
import { awsPorts, type AwsPorts } from './aws-ports';
import { createEngineRuntime, type EngineRuntime, type EngineRuntimeOptions } from './engine-runtime';
import { memoize } from './memoize';

/**
 * The container of the `rekey` CLI: what its commands take their database,
 * engine runtime and AWS ports from. A command builds what it needs once and
 * closes it when it ends; the AWS ports are shared by the whole process.
 */

/** The global flags that choose the database, the registry and the keyring. */
export interface CliConnectionFlags {
  readonly databaseUrl?: string;
  readonly config?: string;
  readonly keyring?: KeyringKind;
  readonly keysetSecret?: string;
}

const aws = memoize(() => awsPorts());

/** KMS, Secrets Manager, SQS, Step Functions and monitoring ports, region and credentials from the environment. */
export function cliAws(): AwsPorts {
  return aws.get();
}

/** The engine runtime of a command (cli/session.ts): the flags first, then the environment. */
export function cliEngineRuntime(
  flags: CliConnectionFlags,
  env: NodeJS.ProcessEnv,
  options: Partial<EngineRuntimeOptions> & Pick<EngineRuntimeOptions, 'actor'>,
): Promise<EngineRuntime> {
  return createEngineRuntime({
    env,
    ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}),
    ...(flags.config ? { registry: flags.config } : {}),
    ...(flags.keyring ? { keyringKind: flags.keyring } : {}),
    ...(flags.keysetSecret ? { keysetSecretId: flags.keysetSecret } : {}),
    ...options,
  });
}

/** What the main thread hands a `reencrypt --concurrency` worker thread (cli/batch-worker.ts): ids and settings only. */
export interface ThreadRuntimeSettings {
  readonly databaseUrl: string;
  readonly registryJson: string;
  readonly env: Record<string, string>;
  readonly actor: string;
  readonly keyringKind?: KeyringKind;
  readonly keysetSecretId?: string;
}

/** A worker thread's own engine runtime: its own connections and keyring; the main thread already synced the catalog. */
export function threadEngineRuntime(settings: ThreadRuntimeSettings): Promise<EngineRuntime> {
  return createEngineRuntime({
    env: settings.env,
    databaseUrl: settings.databaseUrl,
    registry: JSON.parse(settings.registryJson) as Registry,
    actor: settings.actor,
    poolSize: 2,
    syncCatalog: false,
    ...(settings.keyringKind ? { keyringKind: settings.keyringKind } : {}),
    ...(settings.keysetSecretId ? { keysetSecretId: settings.keysetSecretId } : {}),
  });
}

/**
 * A bare pool on the command's database (`rekey migrate`): no keyring,
 * catalog or registry, and no schema check — a schema behind is what it fixes.
 */
export function cliDatabase(flags: Pick<CliConnectionFlags, 'databaseUrl'>, env: NodeJS.ProcessEnv): SqlPool {
  const url = flags.databaseUrl ?? env[RUNTIME_ENV.databaseUrl];
  if (!url) throw new Error(`no database: pass --database-url or set ${RUNTIME_ENV.databaseUrl}`);
  return createPgSql({ connectionString: url, max: 1, env });
}

/** A deployment's database through the RDS Data API, from its stack outputs (`rekey doctor`). */
export function deploymentDatabase(target: {
  readonly resourceArn: string;
  readonly secretArn: string;
  readonly database: string;
}): SqlPool {
  return createDataApiSql(target);
}
