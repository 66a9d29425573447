import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { AwsMonitoring } from '../../../functions/core/adapters/aws-monitoring';
import { MonitoringReadError } from '../../../functions/core/ports/monitoring';

/**
 * The branches moto cannot play: SNS answers a subscription that was never
 * confirmed with `PendingConfirmation` instead of an ARN (moto confirms at
 * once), pages, and errors. The happy paths run against moto in
 * test/integration/cli/doctor.test.ts.
 */
const creds = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const cw = mockClient(CloudWatchClient);
const sns = mockClient(SNSClient);
const scheduler = mockClient(SchedulerClient);
const monitoring = () =>
  new AwsMonitoring({
    cloudwatch: new CloudWatchClient(creds),
    sns: new SNSClient(creds),
    scheduler: new SchedulerClient(creds),
  });
const topic = 'arn:aws:sns:us-east-1:123456789012:alarms';

describe('AwsMonitoring', () => {
  beforeEach(() => {
    cw.reset();
    sns.reset();
    scheduler.reset();
  });

  it('a subscription SNS still shows as PendingConfirmation (or Deleted) is not confirmed; pages are followed', async () => {
    sns
      .on(ListSubscriptionsByTopicCommand, { TopicArn: topic, NextToken: undefined })
      .resolves({ Subscriptions: [{ Protocol: 'email', SubscriptionArn: 'PendingConfirmation' }], NextToken: 'p2' })
      .on(ListSubscriptionsByTopicCommand, { TopicArn: topic, NextToken: 'p2' })
      .resolves({
        Subscriptions: [
          { Protocol: 'email', SubscriptionArn: 'Deleted' },
          { Protocol: 'https', SubscriptionArn: `${topic}:0d5f` },
        ],
      });
    await expect(monitoring().subscriptions(topic)).resolves.toEqual([
      { protocol: 'email', confirmed: false },
      { protocol: 'email', confirmed: false },
      { protocol: 'https', confirmed: true },
    ]);
  });

  it('reads metric and composite alarms by prefix, over pages; missing ActionsEnabled counts as enabled', async () => {
    cw.on(DescribeAlarmsCommand, { NextToken: undefined })
      .resolves({ MetricAlarms: [{ AlarmName: 'Rekey-A', ActionsEnabled: false, AlarmActions: [] }], NextToken: 't' })
      .on(DescribeAlarmsCommand, { NextToken: 't' })
      .resolves({ CompositeAlarms: [{ AlarmName: 'Rekey-B', AlarmActions: [topic] }] });
    await expect(monitoring().alarms('Rekey-')).resolves.toEqual([
      { name: 'Rekey-A', actionsEnabled: false, alarmActions: [] },
      { name: 'Rekey-B', actionsEnabled: true, alarmActions: [topic] },
    ]);
    expect(cw.commandCalls(DescribeAlarmsCommand)[0]!.args[0].input).toMatchObject({ AlarmNamePrefix: 'Rekey-' });
  });

  it('names the call and the resource when access is denied (not retryable) or throttled (retryable)', async () => {
    scheduler.on(ListSchedulesCommand).rejects(
      Object.assign(new Error('denied'), {
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    const denied = await monitoring()
      .schedules('rekey-group')
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(MonitoringReadError);
    expect(denied).toMatchObject({
      message: 'scheduler:ListSchedules on schedule group rekey-group failed (AccessDeniedException)',
      retryable: false,
    });
    cw.on(DescribeAlarmsCommand).rejects(
      Object.assign(new Error('slow down'), {
        name: 'Throttling',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(monitoring().alarms('Rekey-')).rejects.toMatchObject({ retryable: true });
  });
});
