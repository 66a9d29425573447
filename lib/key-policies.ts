import { Annotations, ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';

/**
 * Key-policy statements that let AWS services use the stack key for the
 * resources rekey encrypts with it. Each is added once per key, with explicit
 * actions and a condition naming the resources it serves. An imported key's
 * policy cannot be changed from CDK: then the statement is reported as an
 * info annotation for the key's owner to add.
 */

const added = new WeakMap<IKey, Set<string>>();

/** CloudWatch Logs encrypts log groups of this account and region with the key. */
export function allowCloudWatchLogs(key: IKey): void {
  const stack = Stack.of(key);
  addOnce(
    key,
    'logs',
    new PolicyStatement({
      sid: 'AllowCloudWatchLogsForRekeyLogGroups',
      principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: [
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:ReEncryptFrom',
        'kms:ReEncryptTo',
        'kms:GenerateDataKey',
        'kms:GenerateDataKeyWithoutPlaintext',
        'kms:DescribeKey',
      ],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
}

/** CloudWatch alarms publish to the KMS-encrypted SNS topic (SNS asks CloudWatch's principal for a data key). */
export function allowCloudWatchAlarmsToPublish(key: IKey): void {
  const stack = Stack.of(key);
  addOnce(
    key,
    'cloudwatch',
    new PolicyStatement({
      sid: 'AllowCloudWatchAlarmsToPublishToEncryptedTopic',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    }),
  );
}

function addOnce(key: IKey, name: string, statement: PolicyStatement): void {
  const done = added.get(key) ?? new Set<string>();
  if (done.has(name)) return;
  done.add(name);
  added.set(key, done);
  const { statementAdded } = key.addToResourcePolicy(statement, /* allowNoOp */ true);
  if (!statementAdded) {
    Annotations.of(key).addInfo(
      `rekey: the imported KMS key's policy must allow ${name}: ${JSON.stringify(Stack.of(key).resolve(statement.toStatementJson()))}`,
    );
  }
}
