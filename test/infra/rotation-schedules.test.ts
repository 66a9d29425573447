import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { DefinitionBody, Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { InvalidPropsError } from '../../lib/errors';
import { RotationSchedules, type RotationSchedulesProps } from '../../lib/rotation-schedules';
import {
  actionsOf,
  identityAllowStatements,
  nagFindings,
  resourcesIn,
  resourcesOf,
  SYNTH_TIMEOUT_MS,
  testStack,
} from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

function build(props: Partial<RotationSchedulesProps> = {}) {
  const { stack, key } = testStack();
  const stateMachine = new StateMachine(stack, 'Machine', {
    definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'Nothing')),
  });
  const inventoryFunction = new LambdaFunction(stack, 'Inventory', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {}'),
  });
  const schedules = new RotationSchedules(stack, 'Schedules', { stateMachine, inventoryFunction, key, ...props });
  return { stack, key, stateMachine, inventoryFunction, schedules, template: Template.fromStack(stack) };
}

type ScheduleResource = {
  Properties: {
    ScheduleExpression: string;
    GroupName: unknown;
    KmsKeyArn?: unknown;
    Target: { Arn: unknown; RoleArn: unknown; Input: string };
  };
};

function schedulesOf(template: Template): ScheduleResource[] {
  return Object.values(resourcesOf(template, 'AWS::Scheduler::Schedule')) as never;
}

describe('RotationSchedules with defaults', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build({ tenants: [{ tenant: 'acme' }, { tenant: 'globex', every: Duration.days(30), mode: 'reencrypt' }] });
  });

  test('automatic rotation every 90 days starts a rewrap execution', () => {
    const rotation = schedulesOf(t.template).find(
      (s) => s.Properties.ScheduleExpression === 'rate(90 days)' && s.Properties.Target.Input === '{"mode":"rewrap"}',
    );
    expect(rotation?.Properties.Target.Arn).toEqual({
      Ref: t.stack.getLogicalId(t.stateMachine.node.defaultChild as never),
    });
  });

  test('a daily inventory invokes the inventory function', () => {
    t.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(15 3 * * ? *)',
      Target: { Arn: { 'Fn::GetAtt': [t.stack.getLogicalId(t.inventoryFunction.node.defaultChild as never), 'Arn'] } },
    });
  });

  test('per-tenant schedules start executions for that tenant', () => {
    const inputs = schedulesOf(t.template).map((s) => [s.Properties.ScheduleExpression, s.Properties.Target.Input]);
    expect(inputs).toEqual(
      expect.arrayContaining([
        ['rate(90 days)', '{"mode":"rewrap","tenant":"acme"}'],
        ['rate(30 days)', '{"mode":"reencrypt","tenant":"globex"}'],
      ]),
    );
  });

  test("all schedules live in the construct's group, encrypted with the key, with bounded retries and the DLQ", () => {
    const groupName = t.stack.resolve(t.schedules.group.scheduleGroupName);
    const dlqArn = {
      'Fn::GetAtt': [t.stack.getLogicalId(t.schedules.deadLetterQueue.node.defaultChild as never), 'Arn'],
    };
    const all = schedulesOf(t.template);
    expect(all).toHaveLength(4);
    for (const s of all) {
      expect(s.Properties.GroupName).toEqual(groupName);
      expect(s.Properties.KmsKeyArn).toBeDefined();
      expect(s.Properties.Target).toMatchObject({
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 21600 },
        DeadLetterConfig: { Arn: dlqArn },
      });
    }
    // The DLQ is encrypted with the key, and each target role may send to it (through SQS's use of the key).
    t.template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: { 'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'] },
    });
    const send = identityAllowStatements(t.template).filter((s) => actionsOf(s).includes('sqs:SendMessage'));
    expect(send.length).toBeGreaterThanOrEqual(4);
    for (const s of send) expect(resourcesIn(s)).toEqual([dlqArn]);
  });

  test('the schedule group has no fixed name: CloudFormation names it, so a redeploy never collides with a group being deleted', () => {
    const groups = Object.values(resourcesOf(t.template, 'AWS::Scheduler::ScheduleGroup'));
    expect(groups).toHaveLength(1);
    expect(groups[0]!.Properties?.Name).toBeUndefined();
  });

  test('Scheduler roles: assumable by Scheduler for this account and group only; one action on one resource', () => {
    const roles = Object.values(resourcesOf(t.template, 'AWS::IAM::Role')).filter((r) =>
      JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'),
    );
    expect(roles.length).toBeGreaterThanOrEqual(2);
    for (const r of roles) {
      expect(r.Properties.AssumeRolePolicyDocument).toMatchObject({
        Statement: [
          expect.objectContaining({
            Condition: { StringEquals: { 'aws:SourceAccount': '111122223333', 'aws:SourceArn': expect.anything() } },
          }),
        ],
      });
    }
    const statements = identityAllowStatements(t.template);
    const start = statements.filter((s) => actionsOf(s).includes('states:StartExecution'));
    for (const s of start)
      expect(resourcesIn(s)).toEqual([{ Ref: t.stack.getLogicalId(t.stateMachine.node.defaultChild as never) }]);
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(actionsOf(invoke[0]!)).toEqual(['lambda:InvokeFunction']);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.schedules)).toEqual([]);
  });
});

describe('RotationSchedules options', () => {
  test('rotation may call RotateSecret on the keyset secret instead', () => {
    const { stack } = testStack();
    const secret = Secret.fromSecretCompleteArn(
      stack,
      'Keyset',
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:keyset-AbCdEf',
    );
    const { template } = buildWith(stack, {
      automaticRotation: { every: Duration.days(60), target: { kind: 'rotate-secret', secret } },
    });
    const rotation = schedulesOf(template).find((s) => s.Properties.ScheduleExpression === 'rate(60 days)');
    expect(rotation?.Properties.Target.Input).toBe(JSON.stringify({ SecretId: secret.secretArn }));
    expect(JSON.stringify(rotation?.Properties.Target.Arn)).toContain(
      ':scheduler:::aws-sdk:secretsmanager:rotateSecret',
    );
    const rotate = identityAllowStatements(template).filter((s) =>
      actionsOf(s).some((a) => /^secretsmanager:/i.test(a)),
    );
    expect(rotate.map((s) => [actionsOf(s), resourcesIn(s)])).toEqual([
      [['secretsmanager:RotateSecret'], [secret.secretArn]],
    ]);
  });

  test('rotation and inventory can be turned off', () => {
    const { template } = build({ automaticRotation: false, inventory: false });
    template.resourceCountIs('AWS::Scheduler::Schedule', 0);
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
  });

  test('bad props: one error listing every problem', () => {
    const { stack } = testStack();
    let error: unknown;
    try {
      buildWith(stack, {
        automaticRotation: { every: Duration.hours(12) },
        inventory: { minute: '75', hour: '24' },
        tenants: [
          { tenant: 'a/b' },
          { tenant: 'acme' },
          { tenant: 'acme', every: Duration.days(0.5), mode: 'encrypt' as never },
        ],
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect((error as InvalidPropsError).problems.map((p) => p.split(':')[0])).toEqual([
      'automaticRotation.every',
      'inventory.minute',
      'inventory.hour',
      'tenants[0].tenant',
      'tenants[2].tenant',
      'tenants[2].every',
      'tenants[2].mode',
    ]);
  });
});

function buildWith(stack: ReturnType<typeof testStack>['stack'], props: Partial<RotationSchedulesProps>) {
  const stateMachine = new StateMachine(stack, 'Machine', {
    definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'Nothing')),
  });
  const inventoryFunction = new LambdaFunction(stack, 'Inventory', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {}'),
  });
  new RotationSchedules(stack, 'Schedules', { stateMachine, inventoryFunction, ...props });
  return { template: Template.fromStack(stack) };
}
