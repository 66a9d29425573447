import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { StateMachine, Pass, DefinitionBody } from 'aws-cdk-lib/aws-stepfunctions';
import { InvalidPropsError } from '../../lib/errors';
import { Key } from 'aws-cdk-lib/aws-kms';
import { KEYSET_BOOTSTRAP_DOCUMENT, KEYSET_BOOTSTRAP_FORMAT, KeysetRotation } from '../../lib/keyset-rotation';
import {
  actionsOf,
  DATABASE,
  identityAllowStatements,
  nagFindings,
  resourcesIn,
  resourcesOf,
  SYNTH_TIMEOUT_MS,
  testStack,
  wildcardKmsOrSecretsActions,
} from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(
  props: { rotateEvery?: Duration; rotateImmediately?: boolean; schedule?: string; window?: Duration } = {},
) {
  const { stack, key } = testStack();
  const stateMachine = new StateMachine(stack, 'Machine', {
    definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'Nothing')),
  });
  const rotation = new KeysetRotation(stack, 'KeysetRotation', { key, database: DATABASE, stateMachine, ...props });
  return { stack, key, stateMachine, rotation, template: Template.fromStack(stack) };
}

describe('KeysetRotation', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build();
  });

  test('the keyset secret is encrypted with the stack key, retained, and starts as the bootstrap marker', () => {
    const secrets = Object.values(resourcesOf(t.template, 'AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(1);
    const secret = secrets[0]!;
    expect(secret.DeletionPolicy).toBe('Retain');
    expect(secret.UpdateReplacePolicy).toBe('Retain');
    expect(secret.Properties.KmsKeyId).toEqual({
      'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'],
    });
    // A constant string, not a token: no deployment can write it over a live keyset.
    expect(secret.Properties.SecretString).toBe(KEYSET_BOOTSTRAP_DOCUMENT);
    expect(JSON.parse(secret.Properties.SecretString as string)).toEqual({
      format: KEYSET_BOOTSTRAP_FORMAT,
      version: 2,
    });
  });

  test('the bootstrap document is the same whatever the KMS key: the rotation function gets the key from its environment', () => {
    const other = testStack();
    const imported = Key.fromKeyArn(
      other.stack,
      'Imported',
      'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555',
    );
    const machine = new StateMachine(other.stack, 'Machine', {
      definitionBody: DefinitionBody.fromChainable(new Pass(other.stack, 'Nothing')),
    });
    new KeysetRotation(other.stack, 'KeysetRotation', { key: imported, database: DATABASE, stateMachine: machine });
    const template = Template.fromStack(other.stack);
    const secret = Object.values(resourcesOf(template, 'AWS::SecretsManager::Secret'))[0]!;
    expect(secret.Properties.SecretString).toBe(KEYSET_BOOTSTRAP_DOCUMENT);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KMS_KEY_ARN: imported.keyArn }) },
    });
  });

  test('the secret refuses requests without TLS', () => {
    t.template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Action: 'secretsmanager:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ],
      },
    });
  });

  test('the rotation schedule runs the rotation function every 90 days in a 4-hour window, not at deployment, after its invoke permission exists', () => {
    const schedules = resourcesOf(t.template, 'AWS::SecretsManager::RotationSchedule');
    const [id, schedule] = Object.entries(schedules)[0]!;
    expect(schedule.Properties).toMatchObject({
      RotationRules: { ScheduleExpression: 'rate(90 days)', Duration: '4h' },
      // A changed interval or window must not start a rotation at whatever hour the deployment runs.
      RotateImmediatelyOnUpdate: false,
      RotationLambdaARN: {
        'Fn::GetAtt': [t.stack.getLogicalId(t.rotation.rotation.function.node.defaultChild as never), 'Arn'],
      },
    });
    const permissions = resourcesOf(t.template, 'AWS::Lambda::Permission');
    const [permissionId, permission] = Object.entries(permissions)[0]!;
    expect(permission.Properties).toMatchObject({
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: '111122223333',
    });
    expect((t.template.toJSON().Resources[id] as { DependsOn: string[] }).DependsOn).toContain(permissionId);
  });

  test('the rotation function may write this secret, use this key and start this state machine — by explicit actions only', () => {
    expect(wildcardKmsOrSecretsActions(t.template)).toEqual([]);
    const statements = identityAllowStatements(t.template);
    const secretRef = { Ref: t.stack.getLogicalId(t.rotation.secretResource) };
    const onSecret = statements.filter((s) =>
      resourcesIn(s).some((r) => JSON.stringify(r) === JSON.stringify(secretRef)),
    );
    expect(onSecret.flatMap(actionsOf).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
    ]);
    const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
    expect(start).toHaveLength(1);
    expect(resourcesIn(start[0]!)).toEqual([{ Ref: t.stack.getLogicalId(t.stateMachine.node.defaultChild as never) }]);
    t.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          KEYRING_KIND: 'hierarchical',
          KEYSET_SECRET_ARN: secretRef,
          STATE_MACHINE_ARN: Match.anyValue(),
          DB_CLUSTER_ARN: DATABASE.clusterArn,
        }),
      },
    });
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding (the secret has its rotation)', () => {
    expect(nagFindings(t.rotation)).toEqual([]);
  });

  test('interval, window and immediate rotation are props', () => {
    const { template } = build({ rotateEvery: Duration.days(30), rotateImmediately: true });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: true,
    });
    const cron = build({ schedule: 'cron(0 2 ? * SUN#1 *)', window: Duration.hours(3) });
    cron.template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'cron(0 2 ? * SUN#1 *)', Duration: '3h' },
    });
  });

  test('a bad schedule or window is a prop error naming each', () => {
    const { stack, key } = testStack();
    let error: unknown;
    try {
      new KeysetRotation(stack, 'R', {
        key,
        database: DATABASE,
        schedule: 'every sunday',
        window: Duration.minutes(90),
      });
    } catch (err) {
      error = err;
    }
    expect((error as InvalidPropsError).problems.map((p) => p.split(':')[0])).toEqual(['window', 'schedule']);
    expect(() => new KeysetRotation(stack, 'R2', { key, database: DATABASE, schedule: 'rate(2 hours)' })).toThrow(
      /schedule: a rate must be 1–1000 days or 4–23 hours/,
    );
  });

  test('bad rotateEvery is one prop error', () => {
    const { stack, key } = testStack();
    expect(() => new KeysetRotation(stack, 'R', { key, database: DATABASE, rotateEvery: Duration.hours(36) })).toThrow(
      InvalidPropsError,
    );
    expect(
      () => new KeysetRotation(stack, 'R2', { key, database: DATABASE, rotateEvery: Duration.days(1001) }),
    ).toThrow(/rotateEvery: must be whole days from 1 to 1000/);
  });

  test('without a state machine, synthesis says what is missing', () => {
    const { stack, key } = testStack();
    new KeysetRotation(stack, 'R', { key, database: DATABASE });
    expect(() => Template.fromStack(stack)).toThrow(/no state machine for finishSecret's rewrap/);
  });
});
