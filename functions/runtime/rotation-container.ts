import { ENV, RUNTIME_ENV } from '../core/environment-names';
import { AuditLog } from '../core/keys/audit';
import { KeyCatalog } from '../core/keys/catalog';
import type { SqlPool } from '../core/ports/sql';
import type { RotationDeps } from '../core/rotation/deps';
import { RotationConfigError } from '../core/rotation/errors';
import { migrate } from '../core/schema/migrate';
import { awsPorts } from './aws-ports';
import { containerSql, missingDatabaseEnv } from './lambda-database';
import { memoize } from './memoize';

/**
 * The container of the keyset secret's rotation function: Secrets Manager,
 * KMS and Step Functions (finishSecret's rewrap) as ports, and the catalog's
 * database, built on first use and kept for the container's life; a failed
 * build is retried by the next invocation (memoize.ts).
 *
 * Environment: STATE_MACHINE_ARN (finishSecret's rewrap); the catalog's
 * database as DB_CLUSTER_ARN + DB_SECRET_ARN + DB_NAME (Data API) or
 * DATABASE_URL (local runtime, tests); KEYSET_SECRET_ARN, when set, is the
 * only secret this function rotates. KMS_KEY_ARN is the key the first keyset
 * is wrapped under (the bootstrap document names none) and the only key a
 * later keyset may be under. REKEY_ROTATION_TWO_PHASE=true publishes the next
 * KEK decrypt-only (docs/readers.md).
 */
interface RotationContainer {
  readonly deps: RotationDeps;
  readonly sql: SqlPool;
}

const container = memoize(() => buildRotationContainer(process.env), { dispose: (c) => c.sql.close() });

/** The rotation hook's dependencies. */
export async function rotationDeps(): Promise<RotationDeps> {
  return (await container.get()).deps;
}

/** Tests: close the cached database pool and build anew on the next invocation. */
export function resetRotationContainer(): Promise<void> {
  return container.reset();
}

async function buildRotationContainer(env: NodeJS.ProcessEnv): Promise<RotationContainer> {
  assertRotationEnv(env);
  const sql = containerSql(env);
  const aws = awsPorts();
  // Once per container: the first rotation (docs/deploy.md step 2) creates rekey's tables.
  const schema = memoize(() => migrate(sql).then(() => undefined));
  const deps: RotationDeps = {
    secrets: aws.secrets(),
    kms: aws.kms(),
    catalog: new KeyCatalog(sql, { audit: new AuditLog(sql) }),
    executions: aws.executionStarter(env[ENV.stateMachineArn]!),
    sql,
    ensureSchema: () => schema.get(),
    actor: `rotation-hook:${env[RUNTIME_ENV.lambdaFunctionName] ?? 'local'}`,
    ...(env[ENV.keysetSecretArn] ? { expectedSecretArn: env[ENV.keysetSecretArn] } : {}),
    ...(env[ENV.kmsKeyArn] ? { kmsKeyId: env[ENV.kmsKeyArn] } : {}),
    // Two-phase rotation (docs/readers.md): the next KEK is published decrypt-only; `rekey keys promote` makes it primary.
    ...(env[RUNTIME_ENV.rotationTwoPhase] === 'true' ? { twoPhase: true } : {}),
  };
  return { deps, sql };
}

/** Every missing variable at once, with what it is for. */
function assertRotationEnv(env: NodeJS.ProcessEnv): void {
  const missing: string[] = [];
  if (!env[ENV.stateMachineArn])
    missing.push(`${ENV.stateMachineArn} (the state machine finishSecret starts the rewrap on)`);
  const db = missingDatabaseEnv(env);
  if (db.length > 0)
    missing.push(`${db.join(', ')} (the catalog database through the Data API; or ${RUNTIME_ENV.databaseUrl})`);
  if (missing.length > 0)
    throw new RotationConfigError(`the rotation function's environment is incomplete: set ${missing.join('; ')}`);
}
