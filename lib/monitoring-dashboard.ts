import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  MathExpression,
  type Alarm,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import {
  INVENTORY_DIMENSIONS,
  METRICS_NAMESPACE,
  MetricNames,
  SERVICE_DIMENSION,
} from '../functions/core/metrics-names';
import { ALARM_DEFAULTS } from './defaults';
import { rekeyMetric, type DerivedMetrics } from './monitoring-metrics';
import type { RekeyMonitoringProps } from './monitoring-props';

/** The rekey dashboard: alarm status, rows and batches, errors, the batch queue, executions, rotation, inventory. */
export function buildMonitoringDashboard(
  scope: Construct,
  props: Pick<RekeyMonitoringProps, 'queue' | 'deadLetterQueue' | 'stateMachine'>,
  metrics: DerivedMetrics,
  alarms: Alarm[],
): Dashboard {
  const errorPeriod = ALARM_DEFAULTS.errorPeriod;
  const rotationPeriod = ALARM_DEFAULTS.rotationPeriod;
  const dashboard = new Dashboard(scope, 'Dashboard', { defaultInterval: Duration.days(1) });
  const graph = (title: string, left: IMetric[], right: IMetric[] = []): GraphWidget =>
    new GraphWidget({ title, left, right, width: 12 });
  dashboard.addWidgets(new AlarmStatusWidget({ title: 'rekey alarms', alarms, width: 24 }));
  dashboard.addWidgets(
    graph(
      'Rows',
      [
        rekeyMetric(MetricNames.RowsReencrypted, 'Sum', errorPeriod),
        rekeyMetric(MetricNames.RowsFailed, 'Sum', errorPeriod),
        rekeyMetric(MetricNames.RowsSkipped, 'Sum', errorPeriod),
      ],
      [metrics.failedRowsPercent],
    ),
    graph(
      'Batches',
      [
        rekeyMetric(MetricNames.BatchDurationMs, 'p50', errorPeriod),
        rekeyMetric(MetricNames.BatchDurationMs, 'p95', errorPeriod),
      ],
      [rekeyMetric(MetricNames.KmsCalls, 'Sum', errorPeriod)],
    ),
  );
  dashboard.addWidgets(
    graph('Encryption / decryption errors', [
      rekeyMetric(MetricNames.EncryptionErrors, 'Sum', errorPeriod),
      rekeyMetric(MetricNames.DecryptionErrors, 'Sum', errorPeriod),
    ]),
    graph(
      'Batch queue',
      [
        props.queue.metricApproximateNumberOfMessagesVisible(),
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
      ],
      [props.queue.metricApproximateAgeOfOldestMessage(), metrics.pipelineStalled],
    ),
  );
  dashboard.addWidgets(
    graph('Executions', [
      props.stateMachine.metricStarted(metrics.sfnPeriod),
      props.stateMachine.metricSucceeded(metrics.sfnPeriod),
      props.stateMachine.metricFailed(metrics.sfnPeriod),
      props.stateMachine.metricTimedOut(metrics.sfnPeriod),
      props.stateMachine.metricAborted(metrics.sfnPeriod),
    ]),
    graph(
      'Keyset rotation',
      [
        rekeyMetric(MetricNames.RotationSucceeded, 'Sum', rotationPeriod),
        rekeyMetric(MetricNames.RotationFailed, 'Sum', rotationPeriod),
      ],
      [rekeyMetric(MetricNames.RotationDurationMs, 'p95', rotationPeriod)],
    ),
  );
  dashboard.addWidgets(
    graph(
      'Rows per key version (daily inventory)',
      [
        new MathExpression({
          label: '',
          expression: `SEARCH('{${METRICS_NAMESPACE},${SERVICE_DIMENSION},${INVENTORY_DIMENSIONS.table},${INVENTORY_DIMENSIONS.keyId}} MetricName="${MetricNames.RowsOnKey}"', 'Maximum', 86400)`,
          period: Duration.days(1),
        }),
      ],
      [rekeyMetric(MetricNames.RowsOnOverdueRetiringKeys, 'Maximum', Duration.days(1))],
    ),
  );
  return dashboard;
}
