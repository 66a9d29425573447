import { Stack, type Duration } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  CfnScheduleGroup,
  Schedule,
  ScheduleExpression,
  ScheduleGroup,
  ScheduleTargetInput,
  type IScheduleGroup,
  type IScheduleTarget,
} from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { LambdaInvoke, StepFunctionsStartExecution, Universal } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { QUEUE_DEFAULTS, SCHEDULE_DEFAULTS } from './defaults';
import { PropsProblems } from './errors';
import { kmsStatement } from './iam';
import { acknowledge, wildcardResourceFindingId } from './nag';

/** What the automatic rotation schedule does. */
export type RotationTarget =
  /** Start a `rewrap` execution (kms keyring: KMS rotates its key material; rewrap moves data keys to it). */
  | { readonly kind: 'start-rewrap' }
  /** Call RotateSecret on the keyset secret (hierarchical keyring, when its own rotation schedule is not used). */
  | { readonly kind: 'rotate-secret'; readonly secret: ISecret };

export interface AutomaticRotation {
  /**
   * Interval, whole days.
   * @default SCHEDULE_DEFAULTS.rotationEvery (90 days)
   */
  readonly every?: Duration;
  /**
   * What to do at each interval.
   * @default { kind: 'start-rewrap' }
   */
  readonly target?: RotationTarget;
}

export interface TenantSchedule {
  /** Tenant id, as in the catalog's tenant column (letters, digits, `_ . -`, up to 64). */
  readonly tenant: string;
  /**
   * Interval, whole days.
   * @default the automatic rotation interval (90 days)
   */
  readonly every?: Duration;
  /**
   * Execution mode.
   * @default 'rewrap'
   */
  readonly mode?: 'rewrap' | 'reencrypt';
}

export interface RotationSchedulesProps {
  /** The re-encryption state machine the schedules start. */
  readonly stateMachine: IStateMachine;
  /** The inventory function the daily schedule invokes. */
  readonly inventoryFunction: IFunction;
  /**
   * Encrypts the schedules' target input (only `{mode, tenant}`) and the schedules' dead-letter queue.
   * @default - an AWS owned key for the schedules, SQS-managed encryption for the dead-letter queue
   */
  readonly key?: IKey;
  /**
   * The automatic rotation schedule, or `false` for none (e.g. the keyset secret's own
   * Secrets Manager rotation schedule already rotates).
   * @default { every: 90 days, target: { kind: 'start-rewrap' } }
   */
  readonly automaticRotation?: AutomaticRotation | false;
  /**
   * The daily inventory (UTC cron fields), or `false` for none.
   * @default SCHEDULE_DEFAULTS.inventoryCron (03:15 UTC every day)
   */
  readonly inventory?: { readonly minute: string; readonly hour: string } | false;
  /**
   * Per-tenant rotation schedules, each starting an execution with `{mode, tenant}`.
   * Each execution moves that tenant's rows (tables with a `tenantColumn`) to the tenant's
   * own active key; ValidateInput refuses it while the tenant has none.
   * @default - none
   */
  readonly tenants?: readonly TenantSchedule[];
}

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * EventBridge Scheduler schedules, in their own schedule group: automatic
 * rotation (every 90 days by default), the daily inventory, and optional
 * per-tenant rotations. Each target gets its own role, assumable only by
 * Scheduler for schedules of this account and group, allowed exactly one
 * action on exactly one resource (plus sending to the dead-letter queue).
 * A target call that still fails after the retry policy lands in the
 * dead-letter queue (RekeyMonitoring alarms on it).
 *
 * The group has no fixed name: CloudFormation names it, so a stack destroyed
 * and deployed again never collides with a group still being deleted
 * (schedule-group deletion is asynchronous).
 */
export class RotationSchedules extends Construct {
  readonly group: IScheduleGroup;
  /** Target invocations that failed every retry (e.g. the state machine or the inventory function refused them). */
  readonly deadLetterQueue: Queue;
  readonly rotation?: Schedule;
  readonly inventory?: Schedule;
  /** Per-tenant schedules, by tenant id. */
  readonly tenants: Readonly<Record<string, Schedule>>;

  constructor(scope: Construct, id: string, props: RotationSchedulesProps) {
    super(scope, id);
    const problems = PropsProblems.for(`RotationSchedules ${this.node.path}`);
    const rotationEvery = checkRotationSchedulesProps(problems, props);
    problems.throwIfAny();

    // The L1 without a name (the L2 always names it after the construct path), imported back by ARN.
    const group = new CfnScheduleGroup(this, 'Group');
    this.group = ScheduleGroup.fromScheduleGroupArn(this, 'GroupRef', group.attrArn);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      ...(props.key
        ? { encryption: QueueEncryption.KMS, encryptionMasterKey: props.key }
        : { encryption: QueueEncryption.SQS_MANAGED }),
      enforceSSL: true,
      retentionPeriod: QUEUE_DEFAULTS.dlqRetention,
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      "This queue is the dead-letter queue of the schedules' targets (Scheduler DeadLetterConfig), which cdk-nag does not see as a DLQ.",
    );
    const common = { scheduleGroup: this.group, key: props.key };
    const retry = {
      retryAttempts: SCHEDULE_DEFAULTS.retryAttempts,
      maxEventAge: SCHEDULE_DEFAULTS.maxEventAge,
      deadLetterQueue: this.deadLetterQueue,
    };
    // One role per target, assumable only by Scheduler for this account's schedules of this group.
    const targetRole = (id: string, description: string): Role => {
      const role = new Role(this, id, {
        description,
        assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
          conditions: {
            StringEquals: { 'aws:SourceAccount': Stack.of(this).account, 'aws:SourceArn': this.group.scheduleGroupArn },
          },
        }),
      });
      // Scheduler sends failed invocations to the KMS-encrypted DLQ with this role: SQS asks KMS for the data key.
      if (props.key)
        role.addToPolicy(kmsStatement(props.key, ['kms:GenerateDataKey', 'kms:Decrypt'], { viaService: 'sqs' }));
      return role;
    };
    const startExecution = (id: string, input: Record<string, string>): IScheduleTarget =>
      new StepFunctionsStartExecution(props.stateMachine, {
        role: targetRole(`${id}TargetRole`, `EventBridge Scheduler: start a rekey ${input.mode ?? ''} execution`),
        input: ScheduleTargetInput.fromObject(input),
        ...retry,
      });

    if (props.automaticRotation !== false) {
      const target = props.automaticRotation?.target ?? { kind: 'start-rewrap' };
      this.rotation = new Schedule(this, 'AutomaticRotation', {
        ...common,
        description: `rekey automatic rotation every ${rotationEvery.toDays()} days (${target.kind})`,
        schedule: ScheduleExpression.rate(rotationEvery),
        target:
          target.kind === 'start-rewrap'
            ? startExecution('AutomaticRotation', { mode: 'rewrap' })
            : new Universal({
                role: targetRole(
                  'AutomaticRotationTargetRole',
                  'EventBridge Scheduler: rotate the rekey keyset secret',
                ),
                service: 'secretsmanager',
                action: 'rotateSecret',
                input: ScheduleTargetInput.fromObject({ SecretId: target.secret.secretArn }),
                policyStatements: [
                  new PolicyStatement({
                    actions: ['secretsmanager:RotateSecret'],
                    resources: [target.secret.secretArn],
                  }),
                ],
                ...retry,
              }),
      });
    }

    if (props.inventory !== false) {
      const cron = props.inventory ?? SCHEDULE_DEFAULTS.inventoryCron;
      // Our own role (the target would make one at stack level, out of reach of an acknowledgment here).
      const role = targetRole('InventoryTargetRole', 'EventBridge Scheduler: invoke the rekey inventory function');
      this.inventory = new Schedule(this, 'DailyInventory', {
        ...common,
        description: 'rekey daily inventory: rows per key version per table, as metrics',
        schedule: ScheduleExpression.cron({ minute: cron.minute, hour: cron.hour }),
        target: new LambdaInvoke(props.inventoryFunction, {
          role,
          input: ScheduleTargetInput.fromObject({ source: 'schedule' }),
          ...retry,
        }),
      });
      acknowledge(
        role,
        wildcardResourceFindingId(role, `${props.inventoryFunction.functionArn}:*`),
        'The Lambda target grants the inventory function and its versions/aliases (<arn>:*); only this function is reachable.',
      );
    }

    const tenants: Record<string, Schedule> = {};
    for (const t of props.tenants ?? []) {
      const every = t.every ?? rotationEvery;
      const mode = t.mode ?? 'rewrap';
      tenants[t.tenant] = new Schedule(this, `Tenant-${t.tenant}`, {
        ...common,
        description: `rekey ${mode} for tenant ${t.tenant} every ${every.toDays()} days`,
        schedule: ScheduleExpression.rate(every),
        target: startExecution(`Tenant-${t.tenant}`, { mode, tenant: t.tenant }),
      });
    }
    this.tenants = tenants;
  }
}

/** The props RotationSchedules can check before anything exists. */
export type RotationSchedulesOptions = Pick<RotationSchedulesProps, 'automaticRotation' | 'inventory' | 'tenants'>;

/** Adds a problem for every invalid prop; returns the automatic rotation interval. */
export function checkRotationSchedulesProps(problems: PropsProblems, props: RotationSchedulesOptions): Duration {
  const rotationEvery =
    (props.automaticRotation !== false && props.automaticRotation?.every) || SCHEDULE_DEFAULTS.rotationEvery;
  if (props.automaticRotation !== false) problems.wholeDays('automaticRotation.every', rotationEvery, 1, 3650);
  if (props.inventory) {
    problems.pattern('inventory.minute', props.inventory.minute, /^([0-5]?\d)$/, 'a minute 0–59');
    problems.pattern('inventory.hour', props.inventory.hour, /^(1?\d|2[0-3])$/, 'an hour 0–23');
  }
  const seen = new Set<string>();
  (props.tenants ?? []).forEach((t, i) => {
    problems.pattern(`tenants[${i}].tenant`, t.tenant, TENANT_ID, 'letters, digits, "_", "." or "-", 1 to 64 of them');
    problems.check(!seen.has(t.tenant), `tenants[${i}].tenant`, `${JSON.stringify(t.tenant)} is listed twice`);
    seen.add(t.tenant);
    problems.wholeDays(`tenants[${i}].every`, t.every, 1, 3650);
    if (t.mode !== undefined)
      problems.check(
        t.mode === 'rewrap' || t.mode === 'reencrypt',
        `tenants[${i}].mode`,
        `must be "rewrap" or "reencrypt", got ${JSON.stringify(t.mode)}`,
      );
  });
  return rotationEvery;
}
