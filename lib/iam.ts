import { Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';

/**
 * IAM statements with explicit actions only. aws-cdk-lib's `grant*` helpers
 * on KMS keys and queues add `kms:ReEncrypt*` and `kms:GenerateDataKey*`;
 * rekey's rule is no wildcard action on KMS or Secrets Manager, so every
 * statement that touches them is built here, from these closed lists.
 */

export type KmsAction =
  'kms:Decrypt' | 'kms:Encrypt' | 'kms:GenerateDataKey' | 'kms:ReEncryptFrom' | 'kms:ReEncryptTo' | 'kms:DescribeKey';

export type SecretsManagerAction =
  | 'secretsmanager:GetSecretValue'
  | 'secretsmanager:DescribeSecret'
  | 'secretsmanager:PutSecretValue'
  | 'secretsmanager:UpdateSecretVersionStage'
  | 'secretsmanager:RotateSecret';

/** Use of one KMS key. `viaService` limits it to calls Secrets Manager / SQS make on the caller's behalf. */
export function kmsStatement(
  key: IKey,
  actions: readonly KmsAction[],
  options: { viaService?: 'secretsmanager' | 'sqs' } = {},
): PolicyStatement {
  return new PolicyStatement({
    actions: [...actions],
    resources: [key.keyArn],
    conditions: options.viaService
      ? { StringEquals: { 'kms:ViaService': `${options.viaService}.${Stack.of(key).region}.amazonaws.com` } }
      : undefined,
  });
}

/** Use of one secret. */
export function secretStatement(secretArn: string, actions: readonly SecretsManagerAction[]): PolicyStatement {
  return new PolicyStatement({ actions: [...actions], resources: [secretArn] });
}

/** The Data API calls the SQL port makes (statements, batches, transactions), on one cluster. */
export function dataApiStatement(clusterArn: string): PolicyStatement {
  return new PolicyStatement({
    actions: [
      'rds-data:ExecuteStatement',
      'rds-data:BatchExecuteStatement',
      'rds-data:BeginTransaction',
      'rds-data:CommitTransaction',
      'rds-data:RollbackTransaction',
    ],
    resources: [clusterArn],
  });
}
