import type { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  METRICS_NAMESPACE,
  MetricNames,
  SERVICE_DIMENSION,
  SERVICE_NAME,
  type MetricName,
} from '../functions/core/metrics-names';
import { ALARM_DEFAULTS } from './defaults';

/**
 * The metrics the alarms and the dashboard share: rekey's own (emitted by the
 * functions under the names of core/metrics-names.ts) and the derived rates.
 */

/** One of rekey's metrics, in the service dimension every rekey function emits. */
export function rekeyMetric(name: MetricName, statistic: string, period: Duration): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [SERVICE_DIMENSION]: SERVICE_NAME },
    statistic,
    period,
  });
}

export interface DerivedMetrics {
  readonly failedRowsPercent: MathExpression;
  readonly rotationSuccessPercent: MathExpression;
  readonly pipelineStalled: MathExpression;
  /** Step Functions execution counts per error period. */
  readonly sfnPeriod: { readonly period: Duration; readonly statistic: string };
}

export function derivedMetrics(queue: IQueue): DerivedMetrics {
  const errorPeriod = ALARM_DEFAULTS.errorPeriod;
  const rotationPeriod = ALARM_DEFAULTS.rotationPeriod;
  const failedRowsPercent = new MathExpression({
    label: 'Failed rows (%)',
    expression: 'IF((done + failed) > 0, 100 * failed / (done + failed), 0)',
    usingMetrics: {
      done: rekeyMetric(MetricNames.RowsReencrypted, 'Sum', errorPeriod),
      failed: rekeyMetric(MetricNames.RowsFailed, 'Sum', errorPeriod),
    },
    period: errorPeriod,
  });
  const rotationSuccessPercent = new MathExpression({
    label: 'Rotation success (%)',
    expression: 'IF((ok + failed) > 0, 100 * ok / (ok + failed), 100)',
    usingMetrics: {
      ok: rekeyMetric(MetricNames.RotationSucceeded, 'Sum', rotationPeriod),
      failed: rekeyMetric(MetricNames.RotationFailed, 'Sum', rotationPeriod),
    },
    period: rotationPeriod,
  });
  const sfnPeriod = { period: errorPeriod, statistic: 'Sum' };
  // Stalled: batches wait (visible) while no worker finishes one (deleted), for every period of the window.
  // A healthy job deletes messages every few seconds, however many it enqueued up front; an idle
  // queue publishes no data, which FILL turns into "not stalled".
  const stalledPeriod = ALARM_DEFAULTS.stalledPeriod;
  const pipelineStalled = new MathExpression({
    label: 'Stalled (batches waiting, none finished)',
    expression: 'IF(FILL(visible, 0) > 0 AND FILL(deleted, 0) == 0, 1, 0)',
    usingMetrics: {
      visible: queue.metricApproximateNumberOfMessagesVisible({ period: stalledPeriod, statistic: 'Minimum' }),
      deleted: queue.metricNumberOfMessagesDeleted({ period: stalledPeriod, statistic: 'Sum' }),
    },
    period: stalledPeriod,
  });
  return { failedRowsPercent, rotationSuccessPercent, pipelineStalled, sfnPeriod };
}
