import { Stack } from 'aws-cdk-lib';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { buildAlarmTopic } from './alarm-topic';
import { PropsProblems } from './errors';
import {
  alarmFactory,
  certificateAlarms,
  functionErrorAlarms,
  runbookAlarms,
  scheduleDeadLetterAlarm,
} from './monitoring-alarms';
import { buildMonitoringDashboard } from './monitoring-dashboard';
import { derivedMetrics } from './monitoring-metrics';
import { checkMonitoringProps, type RekeyAlarmName, type RekeyMonitoringProps } from './monitoring-props';

export {
  checkMonitoringProps,
  type AlarmThresholds,
  type RekeyAlarmName,
  type RekeyMonitoringOptions,
  type RekeyMonitoringProps,
  type ResolvedThresholds,
} from './monitoring-props';

/**
 * CloudWatch alarms at the runbooks' thresholds, an SNS topic encrypted with
 * the stack key (TLS only) that every alarm notifies (alarm-topic.ts), and a
 * dashboard (monitoring-dashboard.ts). The constructor reads as its parts:
 * checked thresholds, topic, alarms by family (monitoring-alarms.ts), dashboard.
 */
export class RekeyMonitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Readonly<Record<RekeyAlarmName, Alarm>>;
  /** `<name>Errors` alarms of the watched functions, by the name given in watchedFunctions. */
  readonly functionErrorAlarms: Readonly<Record<string, Alarm>>;
  /** Schedule target invocations in the schedules' dead-letter queue, when one was given. */
  readonly scheduleDeadLetterAlarm?: Alarm;
  /** ACM certificate expiry alarms, in certificateArns order. */
  readonly certificateAlarms: readonly Alarm[];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: RekeyMonitoringProps) {
    super(scope, id);
    const problems = PropsProblems.for(`RekeyMonitoring ${this.node.path}`);
    const thresholds = checkMonitoringProps(problems, Stack.of(this), props);
    problems.throwIfAny();

    this.topic = buildAlarmTopic(this, props.key, props.notificationEmails);
    const notify = new SnsAction(this.topic);
    const alarm = alarmFactory(this, notify);
    const metrics = derivedMetrics(props.queue);
    this.alarms = runbookAlarms(alarm, props, thresholds, metrics);
    this.functionErrorAlarms = functionErrorAlarms(alarm, props.watchedFunctions);
    if (props.scheduleDeadLetterQueue)
      this.scheduleDeadLetterAlarm = scheduleDeadLetterAlarm(alarm, props.scheduleDeadLetterQueue);
    this.certificateAlarms = certificateAlarms(this, notify, props.certificateArns ?? [], thresholds);
    this.dashboard = buildMonitoringDashboard(this, props, metrics, this.allAlarms());
  }

  /** Every alarm of this construct: the runbook alarms, function errors, schedule DLQ, certificates. */
  allAlarms(): Alarm[] {
    return [
      ...Object.values(this.alarms),
      ...Object.values(this.functionErrorAlarms),
      ...(this.scheduleDeadLetterAlarm ? [this.scheduleDeadLetterAlarm] : []),
      ...this.certificateAlarms,
    ];
  }
}
