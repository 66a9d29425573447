import { Arn, ArnFormat, Token, type Duration, type Stack } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { ALARM_DEFAULTS } from './defaults';
import { ARN_PATTERNS, EMAIL_PATTERN, type PropsProblems } from './errors';

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
