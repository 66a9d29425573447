import { RekeyError } from '../errors';

/**
 * What `rekey doctor` reads of a deployment's monitoring: CloudWatch alarms,
 * the alarm topic's SNS subscriptions and EventBridge Scheduler schedules.
 * `adapters/aws-monitoring.ts` implements it over the AWS SDK. Names and
 * states only: a subscription's endpoint (an e-mail address) is never read out.
 */
export interface AlarmSummary {
  readonly name: string;
  readonly actionsEnabled: boolean;
  /** ARNs notified when the alarm fires. */
  readonly alarmActions: readonly string[];
}

export interface SubscriptionSummary {
  readonly protocol: string;
  /** False while the endpoint has not confirmed (SNS shows `PendingConfirmation` instead of an ARN). */
  readonly confirmed: boolean;
}

export interface ScheduleSummary {
  readonly name: string;
  /** ENABLED or DISABLED. */
  readonly state: string;
}

export interface MonitoringPort {
  /** Every metric alarm whose name starts with `namePrefix`. */
  alarms(namePrefix: string): Promise<AlarmSummary[]>;
  subscriptions(topicArn: string): Promise<SubscriptionSummary[]>;
  /** The topic's access policy document (JSON text), or null when it has none. */
  topicPolicy(topicArn: string): Promise<string | null>;
  /** Every schedule of the group. */
  schedules(groupName: string): Promise<ScheduleSummary[]>;
}

/** A monitoring read failed; the message names the service call and the resource. */
export class MonitoringReadError extends RekeyError {
  readonly code = 'MONITORING_READ';
  override readonly retryable: boolean;

  constructor(message: string, options: { readonly retryable: boolean; readonly cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}
