import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetTopicAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  MonitoringReadError,
  type AlarmSummary,
  type MonitoringPort,
  type ScheduleSummary,
  type SubscriptionSummary,
} from '../ports/monitoring';
import { awsErrorName, isTransientAwsError } from './aws-error-mapping';

/** SubscriptionArn values SNS gives a subscription that is not (or no longer) live. */
const NOT_CONFIRMED = new Set(['PendingConfirmation', 'Deleted']);

/** MonitoringPort over CloudWatch DescribeAlarms, SNS ListSubscriptionsByTopic and Scheduler ListSchedules (all pages). */
export class AwsMonitoring implements MonitoringPort {
  constructor(
    private readonly clients: {
      readonly cloudwatch: CloudWatchClient;
      readonly sns: SNSClient;
      readonly scheduler: SchedulerClient;
    } = {
      cloudwatch: new CloudWatchClient({}),
      sns: new SNSClient({}),
      scheduler: new SchedulerClient({}),
    },
  ) {}

  async alarms(namePrefix: string): Promise<AlarmSummary[]> {
    const out: AlarmSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('cloudwatch:DescribeAlarms', `alarms ${namePrefix}*`, () =>
        this.clients.cloudwatch.send(
          new DescribeAlarmsCommand({
            AlarmNamePrefix: namePrefix,
            AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
            NextToken: token,
          }),
        ),
      );
      for (const a of [...(page.MetricAlarms ?? []), ...(page.CompositeAlarms ?? [])]) {
        out.push({
          name: a.AlarmName ?? '',
          actionsEnabled: a.ActionsEnabled !== false,
          alarmActions: a.AlarmActions ?? [],
        });
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  async subscriptions(topicArn: string): Promise<SubscriptionSummary[]> {
    const out: SubscriptionSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('sns:ListSubscriptionsByTopic', topicArn, () =>
        this.clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: token })),
      );
      for (const s of page.Subscriptions ?? [])
        out.push({
          protocol: s.Protocol ?? '',
          confirmed: !!s.SubscriptionArn && !NOT_CONFIRMED.has(s.SubscriptionArn),
        });
      token = page.NextToken;
    } while (token);
    return out;
  }

  async topicPolicy(topicArn: string): Promise<string | null> {
    const out = await this.call('sns:GetTopicAttributes', topicArn, () =>
      this.clients.sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn })),
    );
    return out.Attributes?.Policy ?? null;
  }

  async schedules(groupName: string): Promise<ScheduleSummary[]> {
    const out: ScheduleSummary[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('scheduler:ListSchedules', `schedule group ${groupName}`, () =>
        this.clients.scheduler.send(new ListSchedulesCommand({ GroupName: groupName, NextToken: token })),
      );
      for (const s of page.Schedules ?? []) out.push({ name: s.Name ?? '', state: s.State ?? 'UNKNOWN' });
      token = page.NextToken;
    } while (token);
    return out;
  }

  private async call<T>(action: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const name = awsErrorName(err);
      throw new MonitoringReadError(`${action} on ${what} failed (${name})`, {
        retryable: isTransientAwsError(err),
        cause: err,
      });
    }
  }
}
