import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import type { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MetricNames } from '../functions/core/metrics-names';
import { ALARM_DEFAULTS } from './defaults';
import type { RekeyAlarmName, RekeyMonitoringProps, ResolvedThresholds } from './monitoring-props';
import { rekeyMetric, type DerivedMetrics } from './monitoring-metrics';

/**
 * RekeyMonitoring's alarms, by family: the runbooks' alarms, the errors of
 * functions invoked asynchronously, the schedules' dead-letter queue, and ACM
 * certificate expiry. Every alarm notifies the alarm topic.
 */

/** Creates one alarm under the monitoring construct, notifying the topic. */
export type AlarmFactory = (
  name: string,
  metric: IMetric,
  threshold: number,
  comparisonOperator: ComparisonOperator,
  description: string,
  treatMissingData?: TreatMissingData,
  evaluationPeriods?: number,
) => Alarm;

export function alarmFactory(scope: Construct, notify: SnsAction): AlarmFactory {
  return (
    name,
    metric,
    threshold,
    comparisonOperator,
    description,
    treatMissingData = TreatMissingData.NOT_BREACHING,
    evaluationPeriods = 1,
  ) => {
    const a = new Alarm(scope, name, {
      alarmDescription: `rekey: ${description}`,
      metric,
      threshold,
      comparisonOperator,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      treatMissingData,
    });
    a.addAlarmAction(notify);
    return a;
  };
}

const GT = ComparisonOperator.GREATER_THAN_THRESHOLD;
const GTE = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
const LT = ComparisonOperator.LESS_THAN_THRESHOLD;

/** The runbooks' alarms (docs/alarms.md maps each one to its source). */
export function runbookAlarms(
  alarm: AlarmFactory,
  props: Pick<RekeyMonitoringProps, 'deadLetterQueue' | 'stateMachine'>,
  t: ResolvedThresholds,
  metrics: DerivedMetrics,
): Record<RekeyAlarmName, Alarm> {
  const errorPeriod = ALARM_DEFAULTS.errorPeriod;
  const rotationPeriod = ALARM_DEFAULTS.rotationPeriod;
  const stalledPeriods = t.pipelineStalledFor.toSeconds() / ALARM_DEFAULTS.stalledPeriod.toSeconds();
  return {
    EncryptionErrors: alarm(
      'EncryptionErrors',
      rekeyMetric(MetricNames.EncryptionErrors, 'Sum', errorPeriod),
      t.encryptionErrors,
      GT,
      `more than ${t.encryptionErrors} encryption errors in 5 minutes`,
    ),
    DecryptionErrors: alarm(
      'DecryptionErrors',
      rekeyMetric(MetricNames.DecryptionErrors, 'Sum', errorPeriod),
      t.decryptionErrors,
      GT,
      `more than ${t.decryptionErrors} decryption errors in 5 minutes`,
    ),
    FailedRowsRate: alarm(
      'FailedRowsRate',
      metrics.failedRowsPercent,
      t.failedRowsPercent,
      GT,
      `more than ${t.failedRowsPercent} % of rows failed to re-encrypt in 5 minutes`,
    ),
    RotationSuccessRate: alarm(
      'RotationSuccessRate',
      metrics.rotationSuccessPercent,
      t.rotationSuccessPercent,
      LT,
      `keyset rotation success below ${t.rotationSuccessPercent} % in an hour`,
    ),
    RotationDuration: alarm(
      'RotationDuration',
      rekeyMetric(MetricNames.RotationDurationMs, 'p95', rotationPeriod),
      t.rotationDuration.toMilliseconds(),
      GT,
      `keyset rotation p95 duration above ${t.rotationDuration.toHumanString()}`,
    ),
    DeadLetterQueueNotEmpty: alarm(
      'DeadLetterQueueNotEmpty',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: errorPeriod, statistic: 'Maximum' }),
      1,
      GTE,
      'batch messages in the dead-letter queue: batches failed every delivery',
    ),
    PipelineStalled: alarm(
      'PipelineStalled',
      metrics.pipelineStalled,
      1,
      GTE,
      `batch messages waiting and none processed for ${t.pipelineStalledFor.toHumanString()}: workers stalled (throttled, failing, or the event source mapping disabled)`,
      TreatMissingData.NOT_BREACHING,
      stalledPeriods,
    ),
    ExecutionsFailed: alarm(
      'ExecutionsFailed',
      props.stateMachine.metricFailed(metrics.sfnPeriod),
      1,
      GTE,
      're-encryption execution failed (task error, abort, or completed with errors)',
    ),
    ExecutionsTimedOut: alarm(
      'ExecutionsTimedOut',
      props.stateMachine.metricTimedOut(metrics.sfnPeriod),
      1,
      GTE,
      're-encryption execution timed out',
    ),
    ExecutionsAborted: alarm(
      'ExecutionsAborted',
      props.stateMachine.metricAborted(metrics.sfnPeriod),
      1,
      GTE,
      're-encryption execution was stopped',
    ),
    JobAborted: alarm(
      'JobAborted',
      rekeyMetric(MetricNames.JobAborted, 'Sum', errorPeriod),
      1,
      GTE,
      'a job aborted: failed rows passed maxErrorRate',
    ),
    // Missing data is breaching: a day without an inventory report means the inventory failed or did not run.
    RowsOnOverdueRetiringKeys: alarm(
      'RowsOnOverdueRetiringKeys',
      rekeyMetric(MetricNames.RowsOnOverdueRetiringKeys, 'Maximum', Duration.days(1)),
      0,
      GT,
      'rows still on a rotating key past its grace period, or no daily inventory report for a day (the inventory failed or did not run)',
      TreatMissingData.BREACHING,
    ),
  };
}

/** `<name>Errors`: functions invoked asynchronously, whose failures no caller sees. */
export function functionErrorAlarms(
  alarm: AlarmFactory,
  watched: Readonly<Record<string, IFunction>> = {},
): Record<string, Alarm> {
  return Object.fromEntries(
    Object.entries(watched).map(([name, fn]) => [
      name,
      alarm(
        `${name}Errors`,
        fn.metricErrors({ period: ALARM_DEFAULTS.errorPeriod, statistic: 'Sum' }),
        1,
        GTE,
        `the ${name} function failed (invoked asynchronously: no caller sees its error; see its log group)`,
      ),
    ]),
  );
}

/** Schedule target invocations that failed every retry. */
export function scheduleDeadLetterAlarm(alarm: AlarmFactory, queue: IQueue): Alarm {
  return alarm(
    'ScheduleDeadLetterQueueNotEmpty',
    queue.metricApproximateNumberOfMessagesVisible({
      period: ALARM_DEFAULTS.errorPeriod,
      statistic: 'Maximum',
    }),
    1,
    GTE,
    "a scheduled rotation or inventory could not be started after every retry (see the schedules' dead-letter queue)",
  );
}

/** One alarm per watched ACM certificate, in the order given. */
export function certificateAlarms(
  scope: Construct,
  notify: SnsAction,
  certificateArns: readonly string[],
  t: ResolvedThresholds,
): Alarm[] {
  return certificateArns.map((arn, i) => {
    const a = new Alarm(scope, `CertificateExpiry${i}`, {
      alarmDescription: `rekey: ACM certificate ${arn} expires in fewer than ${t.certificateExpiryDays} days`,
      metric: new Metric({
        namespace: 'AWS/CertificateManager',
        metricName: 'DaysToExpiry',
        dimensionsMap: { CertificateArn: arn },
        statistic: 'Minimum',
        period: Duration.days(1),
      }),
      threshold: t.certificateExpiryDays,
      comparisonOperator: LT,
      evaluationPeriods: 1,
      // ACM publishes once a day; a day without data keeps the last state.
      treatMissingData: TreatMissingData.MISSING,
    });
    a.addAlarmAction(notify);
    return a;
  });
}
