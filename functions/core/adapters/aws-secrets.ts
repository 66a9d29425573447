import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { KeyServiceRejectedError } from '../crypto/keyrings/key-service-errors';
import type {
  GetSecretValueInput,
  PutSecretValueInput,
  RotateSecretInput,
  SecretDescription,
  SecretValue,
  SecretRotationStarter,
  SecretsPort,
  UpdateSecretVersionStageInput,
} from '../ports/secrets';
import { mapAwsError, type ServiceErrorHints } from './aws-error-mapping';

export type SecretsOperation =
  'GetSecretValue' | 'PutSecretValue' | 'DescribeSecret' | 'UpdateSecretVersionStage' | 'RotateSecret';

/**
 * SecretsPort over @aws-sdk/client-secrets-manager, counting every request per
 * operation. Reads always send a VersionStage: without one, Secrets Manager
 * (and moto) may answer with another version than the caller means.
 */
export class AwsSecretsAdapter implements SecretsPort, SecretRotationStarter {
  private readonly counts: Record<SecretsOperation, number> = {
    GetSecretValue: 0,
    PutSecretValue: 0,
    DescribeSecret: 0,
    UpdateSecretVersionStage: 0,
    RotateSecret: 0,
  };

  constructor(private readonly client: SecretsManagerClient) {}

  /** An adapter over a new client; `config` is passed to SecretsManagerClient as-is. */
  static fromConfig(config: SecretsManagerClientConfig = {}): AwsSecretsAdapter {
    return new AwsSecretsAdapter(new SecretsManagerClient(config));
  }

  callCounts(): Readonly<Record<SecretsOperation, number>> {
    return { ...this.counts };
  }

  totalCalls(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }

  async getSecretValue({ secretId, versionStage, versionId }: GetSecretValueInput): Promise<SecretValue> {
    const version = versionId === undefined ? `labelled ${versionStage}` : `${versionId} labelled ${versionStage}`;
    const out = await this.call(
      'GetSecretValue',
      secretId,
      { notFoundDetail: `(or it has no version ${version})` },
      () =>
        this.client.send(
          new GetSecretValueCommand({ SecretId: secretId, VersionStage: versionStage, VersionId: versionId }),
        ),
    );
    if (out.SecretString === undefined || out.VersionId === undefined) {
      throw new KeyServiceRejectedError(
        { service: 'secretsmanager', operation: 'GetSecretValue', resource: secretId },
        'the secret holds no SecretString (a binary secret?): the keyset must be stored as a string',
      );
    }
    return { versionId: out.VersionId, string: out.SecretString, stages: out.VersionStages ?? [] };
  }

  async putSecretValue(input: PutSecretValueInput): Promise<{ versionId: string; stages: readonly string[] }> {
    const out = await this.call('PutSecretValue', input.secretId, {}, () =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: input.secretId,
          ClientRequestToken: input.clientRequestToken,
          SecretString: input.string,
          VersionStages: [...input.versionStages],
        }),
      ),
    );
    return {
      versionId: out.VersionId ?? input.clientRequestToken,
      stages: out.VersionStages ?? [...input.versionStages],
    };
  }

  async describeSecret({ secretId }: { secretId: string }): Promise<SecretDescription> {
    const out = await this.call('DescribeSecret', secretId, {}, () =>
      this.client.send(new DescribeSecretCommand({ SecretId: secretId })),
    );
    return {
      arn: out.ARN ?? secretId,
      name: out.Name ?? secretId,
      versionIdsToStages: out.VersionIdsToStages ?? {},
      rotationEnabled: out.RotationEnabled === true,
    };
  }

  async updateSecretVersionStage(input: UpdateSecretVersionStageInput): Promise<void> {
    await this.call('UpdateSecretVersionStage', input.secretId, {}, () =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: input.secretId,
          VersionStage: input.versionStage,
          MoveToVersionId: input.moveToVersionId,
          RemoveFromVersionId: input.removeFromVersionId,
        }),
      ),
    );
  }

  /** RotateSecret with the rotation function and schedule the secret already has (no RotationLambdaARN, no rules). */
  async rotateSecret(input: RotateSecretInput): Promise<{ versionId: string }> {
    const out = await this.call('RotateSecret', input.secretId, {}, () =>
      this.client.send(
        new RotateSecretCommand({ SecretId: input.secretId, ClientRequestToken: input.clientRequestToken }),
      ),
    );
    return { versionId: out.VersionId ?? input.clientRequestToken };
  }

  private async call<T>(
    operation: SecretsOperation,
    secretId: string,
    hints: ServiceErrorHints,
    send: () => Promise<T>,
  ): Promise<T> {
    this.counts[operation] += 1;
    try {
      return await send();
    } catch (err) {
      throw mapAwsError(err, { service: 'secretsmanager', operation, resource: secretId }, hints);
    }
  }
}
