import { Arn, ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  INVENTORY_DIMENSIONS,
  METRICS_NAMESPACE,
  MetricNames,
  SERVICE_DIMENSION,
  SERVICE_NAME,
  type MetricName,
} from '../functions/core/metrics-names';
import { ALARM_DEFAULTS } from './defaults';
import { ARN_PATTERNS, EMAIL_PATTERN, PropsProblems } from './errors';
import { allowCloudWatchAlarmsToPublish } from './key-policies';

/** Alarm thresholds; each defaults to the runbooks' value (docs/alarms.md). */
export interface AlarmThresholds {
  /**
   * Encryption errors per 5 minutes above which to alarm.
   * @default 10
   */
  readonly encryptionErrors?: number;
  /**
   * Decryption errors per 5 minutes above which to alarm.
   * @default 5
   */
  readonly decryptionErrors?: number;
  /**
   * Failed rows, percent of rows processed in 5 minutes, above which to alarm.
   * @default 1
   */
  readonly failedRowsPercent?: number;
  /**
   * Rotation success rate, percent per hour, below which to alarm.
   * @default 99
   */
  readonly rotationSuccessPercent?: number;
  /**
   * p95 rotation duration per hour above which to alarm.
   * @default Duration.minutes(5)
   */
  readonly rotationDuration?: Duration;
  /**
   * How long batch messages may sit visible in the queue while no worker deletes any before the
   * pipeline counts as stalled (a multiple of 5 minutes, 10 minutes to 1 day).
   * @default Duration.minutes(30)
   */
  readonly pipelineStalledFor?: Duration;
  /**
   * Days to expiry of a watched ACM certificate below which to alarm.
   * @default 14
   */
  readonly certificateExpiryDays?: number;
}

export interface RekeyMonitoringProps {
  /** Encrypts the alarm topic (its key policy lets CloudWatch alarms publish). */
  readonly key: IKey;
  readonly stateMachine: IStateMachine;
  /** The batch queue the workers consume (the stalled-pipeline alarm watches it). */
  readonly queue: IQueue;
  /** The batch queue's dead-letter queue. */
  readonly deadLetterQueue: IQueue;
  /**
   * The schedules' dead-letter queue (target invocations that failed every retry).
   * @default - none watched
   */
  readonly scheduleDeadLetterQueue?: IQueue;
  /**
   * Functions invoked asynchronously (by a schedule, by Secrets Manager), whose failures no caller
   * sees: one alarm each on their Lambda `Errors` metric, named `<name>Errors`.
   * @default - none
   */
  readonly watchedFunctions?: Readonly<Record<string, IFunction>>;
  /**
   * Addresses subscribed to the alarm topic (each must confirm by e-mail).
   * @default - none
   */
  readonly notificationEmails?: readonly string[];
  /**
   * ACM certificates (in this stack's region) to alarm on before they expire.
   * @default - none
   */
  readonly certificateArns?: readonly string[];
  /** @default the runbooks' thresholds (ALARM_DEFAULTS) */
  readonly thresholds?: AlarmThresholds;
}

/** Alarm names of RekeyMonitoring.alarms (certificate alarms are in certificateAlarms). */
export type RekeyAlarmName =
  | 'EncryptionErrors'
  | 'DecryptionErrors'
  | 'FailedRowsRate'
  | 'RotationSuccessRate'
  | 'RotationDuration'
  | 'DeadLetterQueueNotEmpty'
  | 'PipelineStalled'
  | 'ExecutionsFailed'
  | 'ExecutionsTimedOut'
  | 'ExecutionsAborted'
  | 'JobAborted'
  | 'RowsOnOverdueRetiringKeys';

/**
 * CloudWatch alarms at the runbooks' thresholds, an SNS topic encrypted with
 * the stack key (TLS only) that every alarm notifies, and a dashboard.
 *
 * The topic policy is the topic's whole policy (it replaces SNS's default
 * one), so besides denying non-TLS requests it allows CloudWatch to publish
 * for this account's alarms (aws:SourceAccount, aws:SourceArn); the key
 * policy lets CloudWatch use the topic's KMS key.
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
    const t = checkMonitoringProps(problems, Stack.of(this), props);
    problems.throwIfAny();

    allowCloudWatchAlarmsToPublish(props.key);
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'rekey alarms', masterKey: props.key, enforceSSL: true });
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsOfThisAccountToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const email of props.notificationEmails ?? []) this.topic.addSubscription(new EmailSubscription(email));
    const notify = new SnsAction(this.topic);

    const errorPeriod = ALARM_DEFAULTS.errorPeriod;
    const rotationPeriod = ALARM_DEFAULTS.rotationPeriod;
    const rekey = (name: MetricName, statistic: string, period: Duration): Metric =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { [SERVICE_DIMENSION]: SERVICE_NAME },
        statistic,
        period,
      });

    const alarm = (
      name: string,
      metric: IMetric,
      threshold: number,
      comparisonOperator: ComparisonOperator,
      description: string,
      treatMissingData = TreatMissingData.NOT_BREACHING,
      evaluationPeriods = 1,
    ): Alarm => {
      const a = new Alarm(this, name, {
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
    const GT = ComparisonOperator.GREATER_THAN_THRESHOLD;
    const GTE = ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const LT = ComparisonOperator.LESS_THAN_THRESHOLD;

    const failedRowsPercent = new MathExpression({
      label: 'Failed rows (%)',
      expression: 'IF((done + failed) > 0, 100 * failed / (done + failed), 0)',
      usingMetrics: {
        done: rekey(MetricNames.RowsReencrypted, 'Sum', errorPeriod),
        failed: rekey(MetricNames.RowsFailed, 'Sum', errorPeriod),
      },
      period: errorPeriod,
    });
    const rotationSuccessPercent = new MathExpression({
      label: 'Rotation success (%)',
      expression: 'IF((ok + failed) > 0, 100 * ok / (ok + failed), 100)',
      usingMetrics: {
        ok: rekey(MetricNames.RotationSucceeded, 'Sum', rotationPeriod),
        failed: rekey(MetricNames.RotationFailed, 'Sum', rotationPeriod),
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
        visible: props.queue.metricApproximateNumberOfMessagesVisible({ period: stalledPeriod, statistic: 'Minimum' }),
        deleted: props.queue.metricNumberOfMessagesDeleted({ period: stalledPeriod, statistic: 'Sum' }),
      },
      period: stalledPeriod,
    });
    const stalledPeriods = t.pipelineStalledFor.toSeconds() / stalledPeriod.toSeconds();

    this.alarms = {
      EncryptionErrors: alarm(
        'EncryptionErrors',
        rekey(MetricNames.EncryptionErrors, 'Sum', errorPeriod),
        t.encryptionErrors,
        GT,
        `more than ${t.encryptionErrors} encryption errors in 5 minutes`,
      ),
      DecryptionErrors: alarm(
        'DecryptionErrors',
        rekey(MetricNames.DecryptionErrors, 'Sum', errorPeriod),
        t.decryptionErrors,
        GT,
        `more than ${t.decryptionErrors} decryption errors in 5 minutes`,
      ),
      FailedRowsRate: alarm(
        'FailedRowsRate',
        failedRowsPercent,
        t.failedRowsPercent,
        GT,
        `more than ${t.failedRowsPercent} % of rows failed to re-encrypt in 5 minutes`,
      ),
      RotationSuccessRate: alarm(
        'RotationSuccessRate',
        rotationSuccessPercent,
        t.rotationSuccessPercent,
        LT,
        `keyset rotation success below ${t.rotationSuccessPercent} % in an hour`,
      ),
      RotationDuration: alarm(
        'RotationDuration',
        rekey(MetricNames.RotationDurationMs, 'p95', rotationPeriod),
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
        pipelineStalled,
        1,
        GTE,
        `batch messages waiting and none processed for ${t.pipelineStalledFor.toHumanString()}: workers stalled (throttled, failing, or the event source mapping disabled)`,
        TreatMissingData.NOT_BREACHING,
        stalledPeriods,
      ),
      ExecutionsFailed: alarm(
        'ExecutionsFailed',
        props.stateMachine.metricFailed(sfnPeriod),
        1,
        GTE,
        're-encryption execution failed (task error, abort, or completed with errors)',
      ),
      ExecutionsTimedOut: alarm(
        'ExecutionsTimedOut',
        props.stateMachine.metricTimedOut(sfnPeriod),
        1,
        GTE,
        're-encryption execution timed out',
      ),
      ExecutionsAborted: alarm(
        'ExecutionsAborted',
        props.stateMachine.metricAborted(sfnPeriod),
        1,
        GTE,
        're-encryption execution was stopped',
      ),
      JobAborted: alarm(
        'JobAborted',
        rekey(MetricNames.JobAborted, 'Sum', errorPeriod),
        1,
        GTE,
        'a job aborted: failed rows passed maxErrorRate',
      ),
      // Missing data is breaching: a day without an inventory report means the inventory failed or did not run.
      RowsOnOverdueRetiringKeys: alarm(
        'RowsOnOverdueRetiringKeys',
        rekey(MetricNames.RowsOnOverdueRetiringKeys, 'Maximum', Duration.days(1)),
        0,
        GT,
        'rows still on a rotating key past its grace period, or no daily inventory report for a day (the inventory failed or did not run)',
        TreatMissingData.BREACHING,
      ),
    };

    this.functionErrorAlarms = Object.fromEntries(
      Object.entries(props.watchedFunctions ?? {}).map(([name, fn]) => [
        name,
        alarm(
          `${name}Errors`,
          fn.metricErrors({ period: errorPeriod, statistic: 'Sum' }),
          1,
          GTE,
          `the ${name} function failed (invoked asynchronously: no caller sees its error; see its log group)`,
        ),
      ]),
    );
    if (props.scheduleDeadLetterQueue) {
      this.scheduleDeadLetterAlarm = alarm(
        'ScheduleDeadLetterQueueNotEmpty',
        props.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: errorPeriod,
          statistic: 'Maximum',
        }),
        1,
        GTE,
        "a scheduled rotation or inventory could not be started after every retry (see the schedules' dead-letter queue)",
      );
    }

    this.certificateAlarms = (props.certificateArns ?? []).map((arn, i) => {
      const a = new Alarm(this, `CertificateExpiry${i}`, {
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

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(1) });
    const graph = (title: string, left: IMetric[], right: IMetric[] = []): GraphWidget =>
      new GraphWidget({ title, left, right, width: 12 });
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'rekey alarms', alarms: this.allAlarms(), width: 24 }));
    this.dashboard.addWidgets(
      graph(
        'Rows',
        [
          rekey(MetricNames.RowsReencrypted, 'Sum', errorPeriod),
          rekey(MetricNames.RowsFailed, 'Sum', errorPeriod),
          rekey(MetricNames.RowsSkipped, 'Sum', errorPeriod),
        ],
        [failedRowsPercent],
      ),
      graph(
        'Batches',
        [
          rekey(MetricNames.BatchDurationMs, 'p50', errorPeriod),
          rekey(MetricNames.BatchDurationMs, 'p95', errorPeriod),
        ],
        [rekey(MetricNames.KmsCalls, 'Sum', errorPeriod)],
      ),
    );
    this.dashboard.addWidgets(
      graph('Encryption / decryption errors', [
        rekey(MetricNames.EncryptionErrors, 'Sum', errorPeriod),
        rekey(MetricNames.DecryptionErrors, 'Sum', errorPeriod),
      ]),
      graph(
        'Batch queue',
        [
          props.queue.metricApproximateNumberOfMessagesVisible(),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
        ],
        [props.queue.metricApproximateAgeOfOldestMessage(), pipelineStalled],
      ),
    );
    this.dashboard.addWidgets(
      graph('Executions', [
        props.stateMachine.metricStarted(sfnPeriod),
        props.stateMachine.metricSucceeded(sfnPeriod),
        props.stateMachine.metricFailed(sfnPeriod),
        props.stateMachine.metricTimedOut(sfnPeriod),
        props.stateMachine.metricAborted(sfnPeriod),
      ]),
      graph(
        'Keyset rotation',
        [
          rekey(MetricNames.RotationSucceeded, 'Sum', rotationPeriod),
          rekey(MetricNames.RotationFailed, 'Sum', rotationPeriod),
        ],
        [rekey(MetricNames.RotationDurationMs, 'p95', rotationPeriod)],
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Rows per key version (daily inventory)',
        [
          new MathExpression({
            label: '',
            expression: `SEARCH('{${METRICS_NAMESPACE},${SERVICE_DIMENSION},${INVENTORY_DIMENSIONS.table},${INVENTORY_DIMENSIONS.keyId}} MetricName="${MetricNames.RowsOnKey}"', 'Maximum', 86400)`,
            period: Duration.days(1),
          }),
        ],
        [rekey(MetricNames.RowsOnOverdueRetiringKeys, 'Maximum', Duration.days(1))],
      ),
    );
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

export interface ResolvedThresholds {
  encryptionErrors: number;
  decryptionErrors: number;
  failedRowsPercent: number;
  rotationSuccessPercent: number;
  rotationDuration: Duration;
  pipelineStalledFor: Duration;
  certificateExpiryDays: number;
}

/** The props RekeyMonitoring can check before anything exists. */
export type RekeyMonitoringOptions = Pick<
  RekeyMonitoringProps,
  'notificationEmails' | 'certificateArns' | 'thresholds'
>;

/** Adds a problem for every invalid prop; returns the thresholds with defaults applied. */
export function checkMonitoringProps(
  problems: PropsProblems,
  stack: Stack,
  props: RekeyMonitoringOptions,
): ResolvedThresholds {
  const given = props.thresholds ?? {};
  const t: ResolvedThresholds = {
    encryptionErrors: given.encryptionErrors ?? ALARM_DEFAULTS.encryptionErrors,
    decryptionErrors: given.decryptionErrors ?? ALARM_DEFAULTS.decryptionErrors,
    failedRowsPercent: given.failedRowsPercent ?? ALARM_DEFAULTS.failedRowsPercent,
    rotationSuccessPercent: given.rotationSuccessPercent ?? ALARM_DEFAULTS.rotationSuccessPercent,
    rotationDuration: given.rotationDuration ?? ALARM_DEFAULTS.rotationDuration,
    pipelineStalledFor: given.pipelineStalledFor ?? ALARM_DEFAULTS.pipelineStalledFor,
    certificateExpiryDays: given.certificateExpiryDays ?? ALARM_DEFAULTS.certificateExpiryDays,
  };
  problems.integer('thresholds.encryptionErrors', t.encryptionErrors, 0, 1_000_000);
  problems.integer('thresholds.decryptionErrors', t.decryptionErrors, 0, 1_000_000);
  problems.number('thresholds.failedRowsPercent', t.failedRowsPercent, 0, 100);
  problems.number('thresholds.rotationSuccessPercent', t.rotationSuccessPercent, 0, 100);
  problems.integer('thresholds.certificateExpiryDays', t.certificateExpiryDays, 1, 395);
  problems.check(t.rotationDuration.toMilliseconds() > 0, 'thresholds.rotationDuration', 'must be longer than 0');
  const stalled = t.pipelineStalledFor.toSeconds({ integral: false });
  const step = ALARM_DEFAULTS.stalledPeriod.toSeconds();
  problems.check(
    Number.isInteger(stalled / step) && stalled >= 2 * step && stalled <= 86_400,
    'thresholds.pipelineStalledFor',
    `must be a multiple of ${ALARM_DEFAULTS.stalledPeriod.toHumanString()} from ${(2 * step) / 60} minutes to 1 day, got ${t.pipelineStalledFor.toHumanString()}`,
  );

  (props.notificationEmails ?? []).forEach((email, i) =>
    problems.pattern(`notificationEmails[${i}]`, email, EMAIL_PATTERN, 'an e-mail address'),
  );
  const seen = new Set<string>();
  (props.certificateArns ?? []).forEach((arn, i) => {
    const prop = `certificateArns[${i}]`;
    if (Token.isUnresolved(arn)) return;
    problems.check(!seen.has(arn), prop, `${arn} is listed twice`);
    seen.add(arn);
    if (!ARN_PATTERNS.acmCertificate.test(arn)) {
      problems.add(
        prop,
        `must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>), got ${JSON.stringify(arn)}`,
      );
      return;
    }
    const region = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).region;
    if (!Token.isUnresolved(stack.region) && region !== stack.region) {
      problems.add(
        prop,
        `is in ${region}, the stack in ${stack.region}: an alarm reads metrics of its own region only; watch it from a stack in ${region}`,
      );
    }
  });
  return t;
}
