import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { StateMachine, Pass, DefinitionBody } from 'aws-cdk-lib/aws-stepfunctions';
import { InvalidPropsError } from '../../lib/errors';
import { KEYSET_BOOTSTRAP_FORMAT, KeysetRotation } from '../../lib/keyset-rotation';
import { actionsOf, DATABASE, identityAllowStatements, nagFindings, resourcesIn, resourcesOf, SYNTH_TIMEOUT_MS, testStack, wildcardKmsOrSecretsActions } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(props: { rotateEvery?: Duration; rotateImmediately?: boolean } = {}) {
  const { stack, key } = testStack();
  const stateMachine = new StateMachine(stack, 'Machine', { definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'Nothing')) });
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
    expect(secret.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'] });
    const marker = JSON.stringify(secret.Properties.SecretString);
    expect(marker).toContain(`\\"format\\":\\"${KEYSET_BOOTSTRAP_FORMAT}\\"`);
  });

  test('the secret refuses requests without TLS', () => {
    t.template.hasResourceProperties('AWS::SecretsManager::ResourcePolicy', {
      ResourcePolicy: {
        Statement: [Match.objectLike({ Effect: 'Deny', Action: 'secretsmanager:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
  });

  test('the rotation schedule runs the rotation function every 90 days, once at deployment, after its invoke permission exists', () => {
    const schedules = resourcesOf(t.template, 'AWS::SecretsManager::RotationSchedule');
    const [id, schedule] = Object.entries(schedules)[0]!;
    expect(schedule.Properties).toMatchObject({
      RotationRules: { ScheduleExpression: 'rate(90 days)' },
      RotateImmediatelyOnUpdate: true,
      RotationLambdaARN: { 'Fn::GetAtt': [t.stack.getLogicalId(t.rotation.rotation.function.node.defaultChild as never), 'Arn'] },
    });
    const permissions = resourcesOf(t.template, 'AWS::Lambda::Permission');
    const [permissionId, permission] = Object.entries(permissions)[0]!;
    expect(permission.Properties).toMatchObject({ Principal: 'secretsmanager.amazonaws.com', SourceAccount: '111122223333' });
    expect((t.template.toJSON().Resources[id] as { DependsOn: string[] }).DependsOn).toContain(permissionId);
  });

  test('the rotation function may write this secret, use this key and start this state machine — by explicit actions only', () => {
    expect(wildcardKmsOrSecretsActions(t.template)).toEqual([]);
    const statements = identityAllowStatements(t.template);
    const secretRef = { Ref: t.stack.getLogicalId(t.rotation.secretResource) };
    const onSecret = statements.filter((s) => resourcesIn(s).some((r) => JSON.stringify(r) === JSON.stringify(secretRef)));
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
      Environment: { Variables: Match.objectLike({ KEYRING_KIND: 'hierarchical', KEYSET_SECRET_ARN: secretRef, STATE_MACHINE_ARN: Match.anyValue(), DB_CLUSTER_ARN: DATABASE.clusterArn }) },
    });
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding (the secret has its rotation)', () => {
    expect(nagFindings(t.rotation)).toEqual([]);
  });

  test('interval and immediate rotation are props', () => {
    const { template } = build({ rotateEvery: Duration.days(30), rotateImmediately: false });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' }, RotateImmediatelyOnUpdate: false });
  });

  test('bad rotateEvery is one prop error', () => {
    const { stack, key } = testStack();
    expect(() => new KeysetRotation(stack, 'R', { key, database: DATABASE, rotateEvery: Duration.hours(36) })).toThrow(InvalidPropsError);
    expect(() => new KeysetRotation(stack, 'R2', { key, database: DATABASE, rotateEvery: Duration.days(1001) })).toThrow(/rotateEvery: must be whole days from 1 to 1000/);
  });

  test('without a state machine, synthesis says what is missing', () => {
    const { stack, key } = testStack();
    new KeysetRotation(stack, 'R', { key, database: DATABASE });
    expect(() => Template.fromStack(stack)).toThrow(/no state machine for finishSecret's rewrap/);
  });
});
