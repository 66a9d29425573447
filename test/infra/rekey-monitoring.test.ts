import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, Pass, StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { MetricNames } from '../../functions/core/metrics-names';
import { InvalidPropsError } from '../../lib/errors';
import { RekeyMonitoring, type RekeyMonitoringProps } from '../../lib/rekey-monitoring';
import { nagFindings, resourcesOf, SYNTH_TIMEOUT_MS, testStack } from './support';

jest.setTimeout(SYNTH_TIMEOUT_MS);

const CERT = 'arn:aws:acm:eu-west-1:111122223333:certificate/12345678-1234-1234-1234-123456789012';

function build(props: Partial<RekeyMonitoringProps> = {}) {
  const { stack, key } = testStack();
  const stateMachine = new StateMachine(stack, 'Machine', {
    definitionBody: DefinitionBody.fromChainable(new Pass(stack, 'Nothing')),
  });
  const deadLetterQueue = new Queue(stack, 'Dlq', { encryption: QueueEncryption.KMS, encryptionMasterKey: key });
  const queue = new Queue(stack, 'Queue', {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 5 },
  });
  const scheduleDeadLetterQueue = new Queue(stack, 'ScheduleDlq', {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
  });
  const inventory = new LambdaFunction(stack, 'Inventory', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {}'),
  });
  const monitoring = new RekeyMonitoring(stack, 'Monitoring', {
    key,
    stateMachine,
    queue,
    deadLetterQueue,
    scheduleDeadLetterQueue,
    watchedFunctions: { Inventory: inventory },
    ...props,
  });
  return {
    stack,
    key,
    monitoring,
    queue,
    deadLetterQueue,
    scheduleDeadLetterQueue,
    inventory,
    template: Template.fromStack(stack),
  };
}

type AlarmProps = {
  Threshold: number;
  ComparisonOperator: string;
  EvaluationPeriods: number;
  MetricName?: string;
  Namespace?: string;
  Period?: number;
  Statistic?: string;
  ExtendedStatistic?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  DatapointsToAlarm?: number;
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: {
      Metric: { MetricName: string; Namespace?: string; Dimensions?: { Name: string; Value: unknown }[] };
      Period: number;
      Stat: string;
    };
  }[];
  AlarmActions: unknown[];
  TreatMissingData: string;
};

function alarmsOf(template: Template): Record<string, AlarmProps> {
  return Object.fromEntries(
    Object.entries(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map(([id, r]) => [
      id,
      r.Properties as unknown as AlarmProps,
    ]),
  );
}

function alarm(t: ReturnType<typeof build>, name: keyof RekeyMonitoring['alarms']): AlarmProps {
  const id = t.stack.getLogicalId(t.monitoring.alarms[name].node.defaultChild as never);
  return alarmsOf(t.template)[id]!;
}

describe('RekeyMonitoring at the runbook thresholds', () => {
  let t: ReturnType<typeof build>;
  beforeAll(() => {
    t = build({ notificationEmails: ['ops@example.com', 'security@example.com'], certificateArns: [CERT] });
  });

  test('encryption errors > 10 and decryption errors > 5, each in 5 minutes', () => {
    expect(alarm(t, 'EncryptionErrors')).toMatchObject({
      Namespace: 'Rekey',
      MetricName: MetricNames.EncryptionErrors,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      Dimensions: [{ Name: 'service', Value: 'rekey' }],
    });
    expect(alarm(t, 'DecryptionErrors')).toMatchObject({
      MetricName: MetricNames.DecryptionErrors,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('failed rows > 1 % is metric math over rows re-encrypted and failed', () => {
    const a = alarm(t, 'FailedRowsRate');
    expect(a).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' });
    const expression = a.Metrics!.find((m) => m.Expression)!;
    expect(expression.Expression).toBe('IF((done + failed) > 0, 100 * failed / (done + failed), 0)');
    const inputs = a
      .Metrics!.filter((m) => m.MetricStat)
      .map((m) => [m.Id, m.MetricStat!.Metric.MetricName, m.MetricStat!.Stat, m.MetricStat!.Period]);
    expect(inputs.sort()).toEqual([
      ['done', MetricNames.RowsReencrypted, 'Sum', 300],
      ['failed', MetricNames.RowsFailed, 'Sum', 300],
    ]);
  });

  test('rotation success < 99 % and rotation p95 duration > 5 minutes', () => {
    const success = alarm(t, 'RotationSuccessRate');
    expect(success).toMatchObject({ Threshold: 99, ComparisonOperator: 'LessThanThreshold' });
    expect(success.Metrics!.find((m) => m.Expression)!.Expression).toBe(
      'IF((ok + failed) > 0, 100 * ok / (ok + failed), 100)',
    );
    expect(alarm(t, 'RotationDuration')).toMatchObject({
      MetricName: MetricNames.RotationDurationMs,
      ExtendedStatistic: 'p95',
      Period: 3600,
      Threshold: 300_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  const queueName = (q: Queue) => ({ 'Fn::GetAtt': [t.stack.getLogicalId(q.node.defaultChild as never), 'QueueName'] });

  test('the DLQ alarm watches the batch DLQ', () => {
    expect(alarm(t, 'DeadLetterQueueNotEmpty')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'QueueName', Value: queueName(t.deadLetterQueue) }],
    });
  });

  test('stalled pipeline: batches visible on the batch queue and none deleted, in every 5-minute period for 30 minutes', () => {
    const a = alarm(t, 'PipelineStalled');
    expect(a).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 6,
      DatapointsToAlarm: 6,
      TreatMissingData: 'notBreaching',
    });
    expect(a.Metrics!.find((m) => m.Expression)!.Expression).toBe(
      'IF(FILL(visible, 0) > 0 AND FILL(deleted, 0) == 0, 1, 0)',
    );
    const inputs = Object.fromEntries(a.Metrics!.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat!]));
    expect(inputs.visible).toMatchObject({
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: queueName(t.queue) }],
      },
      Period: 300,
    });
    expect(inputs.deleted).toMatchObject({
      Metric: {
        Namespace: 'AWS/SQS',
        MetricName: 'NumberOfMessagesDeleted',
        Dimensions: [{ Name: 'QueueName', Value: queueName(t.queue) }],
      },
      Period: 300,
      Stat: 'Sum',
    });
  });

  test("watched functions alarm on their Lambda Errors; the schedules' DLQ alarms when not empty", () => {
    const errors = alarmsOf(t.template)[
      t.stack.getLogicalId(t.monitoring.functionErrorAlarms.Inventory!.node.defaultChild as never)
    ]!;
    expect(errors).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: t.stack.getLogicalId(t.inventory.node.defaultChild as never) } },
      ],
    });
    const dlq = alarmsOf(t.template)[
      t.stack.getLogicalId(t.monitoring.scheduleDeadLetterAlarm!.node.defaultChild as never)
    ]!;
    expect(dlq).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
      Dimensions: [{ Name: 'QueueName', Value: queueName(t.scheduleDeadLetterQueue) }],
    });
  });

  test('missing data: breaching for the daily inventory report, keeps state for certificates, not breaching for event counts', () => {
    const byId = alarmsOf(t.template);
    const id = (a: { node: { defaultChild?: unknown } }) => t.stack.getLogicalId(a.node.defaultChild as never);
    const expected: Record<string, string> = {};
    for (const [name, a] of Object.entries(t.monitoring.alarms))
      expected[id(a)] = name === 'RowsOnOverdueRetiringKeys' ? 'breaching' : 'notBreaching';
    for (const a of Object.values(t.monitoring.functionErrorAlarms)) expected[id(a)] = 'notBreaching';
    expected[id(t.monitoring.scheduleDeadLetterAlarm!)] = 'notBreaching';
    for (const a of t.monitoring.certificateAlarms) expected[id(a)] = 'missing';
    // Every alarm of the template is listed, and each has its TreatMissingData set explicitly.
    expect(Object.keys(expected).sort()).toEqual(Object.keys(byId).sort());
    for (const [logicalId, value] of Object.entries(expected))
      expect([logicalId, byId[logicalId]!.TreatMissingData]).toEqual([logicalId, value]);
  });

  test('executions failed / timed out / aborted, jobs aborted, rows on overdue retiring keys', () => {
    for (const [name, metric] of [
      ['ExecutionsFailed', 'ExecutionsFailed'],
      ['ExecutionsTimedOut', 'ExecutionsTimedOut'],
      ['ExecutionsAborted', 'ExecutionsAborted'],
    ] as const) {
      expect(alarm(t, name)).toMatchObject({
        Namespace: 'AWS/States',
        MetricName: metric,
        Statistic: 'Sum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
    expect(alarm(t, 'JobAborted')).toMatchObject({
      Namespace: 'Rekey',
      MetricName: MetricNames.JobAborted,
      Threshold: 1,
    });
    expect(alarm(t, 'RowsOnOverdueRetiringKeys')).toMatchObject({
      Namespace: 'Rekey',
      MetricName: MetricNames.RowsOnOverdueRetiringKeys,
      Statistic: 'Maximum',
      Period: 86400,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  test('ACM certificate expiry < 14 days, one alarm per certificate', () => {
    expect(t.monitoring.certificateAlarms).toHaveLength(1);
    const id = t.stack.getLogicalId(t.monitoring.certificateAlarms[0]!.node.defaultChild as never);
    expect(alarmsOf(t.template)[id]).toMatchObject({
      Namespace: 'AWS/CertificateManager',
      MetricName: 'DaysToExpiry',
      Statistic: 'Minimum',
      Period: 86400,
      Threshold: 14,
      ComparisonOperator: 'LessThanThreshold',
      Dimensions: [{ Name: 'CertificateArn', Value: CERT }],
    });
  });

  test('every alarm notifies the KMS-encrypted, TLS-only topic, with e-mail subscriptions', () => {
    const topicRef = { Ref: t.stack.getLogicalId(t.monitoring.topic.node.defaultChild as never) };
    const alarms = Object.values(alarmsOf(t.template));
    expect(alarms).toHaveLength(15); // 12 runbook alarms, 1 function, the schedules' DLQ, 1 certificate
    for (const a of alarms) expect(a.AlarmActions).toEqual([topicRef]);
    t.template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [t.stack.getLogicalId(t.key.node.defaultChild as never), 'Arn'] },
    });
    // The topic policy replaces SNS's default one: beside the TLS Deny, CloudWatch alarms of this account may publish.
    t.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: topicRef,
            Condition: {
              StringEquals: { 'aws:SourceAccount': '111122223333' },
              ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:*' },
            },
          }),
        ],
      },
    });
    const emails = Object.values(resourcesOf(t.template, 'AWS::SNS::Subscription')).map((s) => [
      s.Properties.Protocol,
      s.Properties.Endpoint,
    ]);
    expect(emails).toEqual([
      ['email', 'ops@example.com'],
      ['email', 'security@example.com'],
    ]);
  });

  test('the key policy lets CloudWatch alarms publish to the encrypted topic (explicit actions)', () => {
    const key = Object.values(resourcesOf(t.template, 'AWS::KMS::Key'))[0]!;
    expect((key.Properties.KeyPolicy as { Statement: unknown[] }).Statement).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      }),
    );
  });

  test('a dashboard', () => {
    t.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      Object.values(resourcesOf(t.template, 'AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody,
    );
    for (const name of [
      MetricNames.RowsReencrypted,
      MetricNames.BatchDurationMs,
      MetricNames.KmsCalls,
      MetricNames.RotationDurationMs,
      'RowsOnKey',
    ])
      expect(body).toContain(name);
  });

  test('cdk-nag AwsSolutions: no unacknowledged finding', () => {
    expect(nagFindings(t.monitoring)).toEqual([]);
  });
});

describe('RekeyMonitoring options', () => {
  test('thresholds are props', () => {
    const t = build({
      thresholds: {
        encryptionErrors: 3,
        failedRowsPercent: 0.5,
        rotationDuration: Duration.minutes(2),
        pipelineStalledFor: Duration.hours(1),
        certificateExpiryDays: 30,
      },
      certificateArns: [CERT],
    });
    expect(alarm(t, 'EncryptionErrors').Threshold).toBe(3);
    expect(alarm(t, 'FailedRowsRate').Threshold).toBe(0.5);
    expect(alarm(t, 'RotationDuration').Threshold).toBe(120_000);
    expect(alarm(t, 'PipelineStalled')).toMatchObject({ EvaluationPeriods: 12, DatapointsToAlarm: 12 });
    expect(
      Object.values(alarmsOf(t.template))
        .filter((a) => a.MetricName === 'DaysToExpiry')
        .map((a) => a.Threshold),
    ).toEqual([30]);
  });

  test('bad props: one error listing every problem', () => {
    let error: unknown;
    try {
      build({
        notificationEmails: ['ops@example.com', 'not an address'],
        certificateArns: [CERT, CERT, 'arn:aws:acm:us-east-1:111122223333:certificate/abc', 'cert-1'],
        thresholds: {
          decryptionErrors: -1,
          failedRowsPercent: 101,
          rotationSuccessPercent: 100.5,
          pipelineStalledFor: Duration.minutes(7),
          certificateExpiryDays: 0,
        },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidPropsError);
    expect((error as InvalidPropsError).problems.map((p) => p.split(':')[0])).toEqual([
      'thresholds.decryptionErrors',
      'thresholds.failedRowsPercent',
      'thresholds.rotationSuccessPercent',
      'thresholds.certificateExpiryDays',
      'thresholds.pipelineStalledFor',
      'notificationEmails[1]',
      'certificateArns[1]',
      'certificateArns[2]',
      'certificateArns[3]',
    ]);
    expect((error as Error).message).toContain('certificateArns[2]: is in us-east-1, the stack in eu-west-1');
  });
});
