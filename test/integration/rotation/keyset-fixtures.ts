import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Keyset } from '../../../functions/core/crypto/keyrings/keyset';
import { parseKeyset } from '../../../functions/core/crypto/keyrings/keyset-document';
import { KeyCatalog } from '../../../functions/core/keys/catalog';
import { ExecutionStartError } from '../../../functions/core/ports/execution-errors';
import type { ExecutionStarter } from '../../../functions/core/ports/executions';
import { AWSCURRENT, type SecretsPort } from '../../../functions/core/ports/secrets';
import { KEYSET_BOOTSTRAP_FORMAT, type RotationDeps } from '../../../functions/core/rotation/rotate';
import { migrate } from '../../../functions/core/schema/migrate';
import { AwsKmsAdapter } from '../../../functions/core/adapters/aws-kms';
import { AwsSecretsAdapter } from '../../../functions/core/adapters/aws-secrets';
import type { Sql } from '../../../functions/core/ports/sql';
import { awsClientConfig } from '../../support/aws';

/**
 * The fixtures every keyset-rotation suite starts from (the rotation hook,
 * the two-phase rotation, the rotation race and the rotation handler): a KMS
 * root key and a keyset secret holding the bootstrap document, both in moto,
 * and a rewrap starter that records what it is asked to start.
 */

/** The SDK client and adapters the keyset-rotation suites reach moto's Secrets Manager and KMS through. */
export function motoRotationClients(): {
  readonly smClient: SecretsManagerClient;
  readonly secrets: AwsSecretsAdapter;
  readonly kms: AwsKmsAdapter;
} {
  const smClient = new SecretsManagerClient(awsClientConfig());
  return {
    smClient,
    secrets: new AwsSecretsAdapter(smClient),
    kms: new AwsKmsAdapter(new KMSClient(awsClientConfig())),
  };
}

/**
 * What the rotation steps run with in these suites: moto's services, a
 * catalog in `db`, the one secret `secretArn`, no pause between retries, and
 * the schema created on first use; `extra` overrides any of it.
 */
export function rotationDeps(
  clients: { readonly secrets: AwsSecretsAdapter; readonly kms: AwsKmsAdapter },
  db: { readonly sql: Sql },
  secretArn: string,
  executions: ExecutionStarter,
  extra: Partial<RotationDeps> = {},
): RotationDeps {
  return {
    secrets: clients.secrets,
    kms: clients.kms,
    catalog: new KeyCatalog(db.sql),
    executions,
    sql: db.sql,
    ensureSchema: async () => void (await migrate(db.sql)),
    expectedSecretArn: secretArn,
    retryDelaysMs: [0, 0, 0],
    ...extra,
  };
}

/** A new KMS root key in moto and a keyset secret naming it in the bootstrap document. */
export async function createKeysetSecret(
  options: { namePrefix?: string; keyDescription?: string } = {},
): Promise<{ secretArn: string; kmsKeyArn: string }> {
  const kmsKeyArn = (
    await new KMSClient(awsClientConfig()).send(new CreateKeyCommand({ Description: options.keyDescription }))
  ).KeyMetadata!.Arn!;
  const secret = await new SecretsManagerClient(awsClientConfig()).send(
    new CreateSecretCommand({
      Name: `${options.namePrefix ?? 'rekey-keyset'}-${randomUUID()}`,
      SecretString: JSON.stringify({ format: KEYSET_BOOTSTRAP_FORMAT, version: 1, kmsKeyId: kmsKeyArn }),
    }),
  );
  return { secretArn: secret.ARN!, kmsKeyArn };
}

/** One rewrap the starter was asked for. */
export interface RewrapRequest {
  readonly targetKeyId: string;
  readonly clientToken: string;
}

/** A rewrap starter that records its calls, with the state a test reads and sets. */
export interface RecordingRewrapStarter {
  readonly starter: ExecutionStarter;
  /** Every startRewrap call, failed ones included. */
  readonly calls: RewrapRequest[];
  /** The executions that really started: one per client token, as Step Functions starts one execution per name. */
  readonly executions: RewrapRequest[];
  /** How many of the next calls fail as throttled (retryable), as StartExecution does under load. */
  failingStarts: number;
}

/** A fake Step Functions rewrap starter (the real adapter runs against moto in the handler tests). */
export function recordingRewrapStarter(): RecordingRewrapStarter {
  const recorder: RecordingRewrapStarter = {
    calls: [],
    executions: [],
    failingStarts: 0,
    starter: {
      startRewrap: async ({ targetKeyId, clientToken }) => {
        recorder.calls.push({ targetKeyId, clientToken });
        if (recorder.failingStarts > 0) {
          recorder.failingStarts -= 1;
          throw new ExecutionStartError('states:StartExecution failed (ThrottlingException); retry later', {
            retryable: true,
          });
        }
        const first = !recorder.executions.some((e) => e.clientToken === clientToken);
        if (first) recorder.executions.push({ targetKeyId, clientToken });
        return {
          executionArn: first ? `arn:aws:states:us-east-1:123456789012:execution:rekey:rewrap-${clientToken}` : null,
          started: first,
        };
      },
    },
  };
  return recorder;
}

/** The keyset staged AWSCURRENT. */
export async function currentKeyset(secrets: SecretsPort, secretArn: string): Promise<Keyset> {
  return parseKeyset((await secrets.getSecretValue({ secretId: secretArn, versionStage: AWSCURRENT })).string);
}

/** Every catalog key's status, by key id. */
export async function keyStatuses(catalog: KeyCatalog): Promise<Record<string, string>> {
  return Object.fromEntries((await catalog.list()).map((k) => [k.id, k.status]));
}
