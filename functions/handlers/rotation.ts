import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { AwsKmsAdapter } from '../core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../core/adapters/aws-secrets';
import { SfnExecutionStarter } from '../core/adapters/aws-sfn';
import { AuditLog } from '../core/keys/audit';
import { KeyCatalog } from '../core/keys/catalog';
import { MetricNames } from '../core/metrics-names';
import type { SqlPool } from '../core/ports/sql';
import { RotationConfigError } from '../core/rotation/errors';
import { parseRotationEvent, rotateKeysetSecret, type RotationDeps, type StepResult } from '../core/rotation/rotate';
import { migrate } from '../core/schema/migrate';
import { rekeyHandler } from './shared/handler';
import { logger, metrics } from './shared/powertools';
import { containerSql, missingDatabaseEnv } from './shared/sql';

/**
 * The keyset secret's rotation function. Secrets Manager invokes it with
 * `{Step, SecretId, ClientRequestToken[, RotationToken]}` for createSecret,
 * setSecret, testSecret and finishSecret; the domain (core/rotation) checks
 * the event and the secret and runs the step, each safe to re-run.
 *
 * Environment: STATE_MACHINE_ARN (finishSecret's rewrap); the catalog's
 * database as DB_CLUSTER_ARN + DB_SECRET_ARN + DB_NAME (Data API) or
 * DATABASE_URL (local runtime, tests); KEYSET_SECRET_ARN, when set, is the
 * only secret this function rotates. KMS_KEY_ARN is the key the first keyset
 * is wrapped under (the bootstrap document names none) and the only key a
 * later keyset may be under.
 *
 * Metrics (namespace Rekey): RotationSucceeded when a finishSecret completes
 * a rotation, RotationDurationMs (createSecret to promotion) from the call
 * that promoted;
 * RotationFailed for every failed invocation. Logs: step, outcome, ids.
 */
interface Container {
  readonly deps: RotationDeps;
  readonly sql: SqlPool;
}

let container: Promise<Container> | undefined;

/** The dependencies, built on first use and kept for the container's life; a failed build is retried next time. */
export function rotationDeps(env: NodeJS.ProcessEnv = process.env): Promise<RotationDeps> {
  container ??= buildContainer(env).catch((err: unknown) => {
    container = undefined;
    throw err;
  });
  return container.then((c) => c.deps);
}

/** Tests: close the cached database pool and build anew on the next invocation. */
export async function resetRotationDeps(): Promise<void> {
  const current = container;
  container = undefined;
  if (current) await (await current.catch(() => undefined))?.sql.close();
}

async function buildContainer(env: NodeJS.ProcessEnv): Promise<Container> {
  const missing: string[] = [];
  if (!env.STATE_MACHINE_ARN) missing.push('STATE_MACHINE_ARN (the state machine finishSecret starts the rewrap on)');
  const db = missingDatabaseEnv(env);
  if (db.length > 0) missing.push(`${db.join(', ')} (the catalog database through the Data API; or DATABASE_URL)`);
  if (missing.length > 0)
    throw new RotationConfigError(`the rotation function's environment is incomplete: set ${missing.join('; ')}`);
  const sql = containerSql(env);
  let schema: Promise<void> | undefined;
  const deps: RotationDeps = {
    // Region, credentials and (locally) AWS_ENDPOINT_URL come from the environment.
    secrets: new AwsSecretsAdapter(new SecretsManagerClient({})),
    kms: new AwsKmsAdapter(new KMSClient({})),
    catalog: new KeyCatalog(sql, { audit: new AuditLog(sql) }),
    executions: new SfnExecutionStarter(env.STATE_MACHINE_ARN!, new SFNClient({})),
    sql,
    // Once per container: the first rotation (docs/deploy.md step 2) creates rekey's tables.
    ensureSchema: () =>
      (schema ??= migrate(sql).then(
        () => undefined,
        (err: unknown) => {
          schema = undefined;
          throw err;
        },
      )),
    actor: `rotation-hook:${env.AWS_LAMBDA_FUNCTION_NAME ?? 'local'}`,
    ...(env.KEYSET_SECRET_ARN ? { expectedSecretArn: env.KEYSET_SECRET_ARN } : {}),
    ...(env.KMS_KEY_ARN ? { kmsKeyId: env.KMS_KEY_ARN } : {}),
    // Two-phase rotation (docs/readers.md): the next KEK is published decrypt-only; `rekey keys promote` makes it primary.
    ...(env.REKEY_ROTATION_TWO_PHASE === 'true' ? { twoPhase: true } : {}),
  };
  return { deps, sql };
}

export const handler = rekeyHandler('Rotation', async (input: unknown): Promise<StepResult> => {
  let result: StepResult;
  try {
    // The event first: a malformed invocation is refused before anything is built or called.
    const event = parseRotationEvent(input);
    logger.appendKeys({ step: event.Step, secretId: event.SecretId, token: event.ClientRequestToken });
    result = await rotateKeysetSecret(await rotationDeps(), event);
  } catch (err) {
    metrics.addMetric(MetricNames.RotationFailed, MetricUnit.Count, 1);
    throw err;
  }
  logger.info('rotation step', {
    outcome: result.outcome,
    newKeyId: result.newKeyId,
    detail: result.detail,
    ...(result.executionArn ? { executionArn: result.executionArn } : {}),
  });
  // `done` once per rotation: a re-run that finds everything done is `already-done`. The duration only
  // from the call that promoted: a re-run that caught up on the rewrap later would inflate it.
  if (result.step === 'finishSecret' && result.outcome === 'done') {
    metrics.addMetric(MetricNames.RotationSucceeded, MetricUnit.Count, 1);
    if (result.promoted === true && result.rotationDurationMs !== undefined) {
      metrics.addMetric(MetricNames.RotationDurationMs, MetricUnit.Milliseconds, result.rotationDurationMs);
    }
  }
  return result;
});
