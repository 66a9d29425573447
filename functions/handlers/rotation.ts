import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { AwsKmsAdapter } from '../core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../core/adapters/aws-secrets';
import { SfnExecutionStarter } from '../core/adapters/aws-sfn';
import { AuditLog } from '../core/keys/audit';
import { KeyCatalog } from '../core/keys/catalog';
import { MetricNames } from '../core/metrics-names';
import type { SqlPool } from '../core/ports/sql';
import { rotateKeysetSecret, validateEvent, type RotationDeps } from '../core/rotation/rotate';
import { migrate } from '../core/schema/migrate';
import { rekeyHandler } from './shared/handler';
import { logger, metrics } from './shared/powertools';
import { containerSql } from './shared/sql';

/**
 * Secrets Manager rotation function of the keyset secret. Secrets Manager
 * invokes it with `{Step, SecretId, ClientRequestToken}` for createSecret,
 * setSecret, testSecret and finishSecret; each step is idempotent. The first
 * rotation (at deploy) turns the bootstrap document into kek-v1 and creates
 * rekey's tables. Metrics: RotationSucceeded / RotationFailed /
 * RotationDurationMs (on finishSecret, measured from createSecret's version).
 */
let deps: RotationDeps | undefined;

export function rotationDeps(env: NodeJS.ProcessEnv = process.env): RotationDeps {
  if (deps) return deps;
  const sql: SqlPool = containerSql(env);
  const audit = new AuditLog(sql);
  if (!env.STATE_MACHINE_ARN) throw new Error('STATE_MACHINE_ARN is not set');
  deps = {
    secrets: new AwsSecretsAdapter(new SecretsManagerClient({})),
    kms: new AwsKmsAdapter(new KMSClient({})),
    catalog: new KeyCatalog(sql, { audit }),
    executions: new SfnExecutionStarter(env.STATE_MACHINE_ARN),
    ensureSchema: async () => void (await migrate(sql)),
    actor: 'rotation-hook',
  };
  return deps;
}

/** Tests: build the next invocation's dependencies anew. */
export function resetRotationDeps(next?: RotationDeps): void {
  deps = next;
}

export const handler = rekeyHandler('Rotation', async (event: unknown) => {
  validateEvent(event);
  const started = Date.now();
  try {
    const result = await rotateKeysetSecret(rotationDeps(), event);
    logger.info('rotation step', { step: result.step, secretId: event.SecretId, token: event.ClientRequestToken, detail: result.detail });
    if (event.Step === 'finishSecret') {
      metrics.addMetric(MetricNames.RotationSucceeded, MetricUnit.Count, 1);
      metrics.addMetric(MetricNames.RotationDurationMs, MetricUnit.Milliseconds, Date.now() - started);
    }
    return result;
  } catch (err) {
    metrics.addMetric(MetricNames.RotationFailed, MetricUnit.Count, 1);
    throw err;
  }
});
