import { Aws, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, QueryLanguage, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { databaseEnvironment, databaseStatements, type DataApiDatabase } from './database';
import {
  FUNCTION_DEFAULTS,
  FUNCTION_TIMEOUTS,
  JOB_DEFAULTS,
  PROGRESS_DEFAULTS,
  QUEUE_DEFAULTS,
  SCHEDULE_DEFAULTS,
  STATE_MACHINE_DEFAULTS,
  WORKER_BUDGET,
} from './defaults';
import { ENV } from './environment';
import { jobSettingProblems } from '../functions/core/job-settings';
import { PropsProblems } from './errors';
import { HISTORY_EVENT_BUDGET, HISTORY_EVENT_LIMIT, REFERENCE_ROWS, worstCaseHistoryEvents } from './history-budget';
import { kmsStatement } from './iam';
import { allowCloudWatchLogs } from './key-policies';
import { keyringEnvironment, keyringStatements, type KeyringAccess } from './keyring-access';
import {
  checkLegacyKeysProps,
  legacyKeysEnvironment,
  legacyKeysStatements,
  type LegacyKeysSecret,
} from './legacy-keys-access';
import { acknowledge, wildcardResourceFindingId } from './nag';
import { buildReencryptionDefinition, type ReencryptionTaskFunctions } from './reencryption-definition';
import { RekeyFunction } from './rekey-function';
import { checkRegistry, type EncryptedColumnRegistry } from './registry';

/** The tunable settings of the pipeline (the stack passes them through as `pipeline`). */
export interface ReencryptionPipelineTuning {
  /**
   * Rows per batch when an execution input gives no batchSize.
   * @default JOB_DEFAULTS.batchSize (2000)
   */
  readonly batchSize?: number;
  /**
   * Share of failed rows (0–1) past which a job aborts, when the input gives none.
   * @default JOB_DEFAULTS.maxErrorRate (0.01)
   */
  readonly maxErrorRate?: number;
  /**
   * Maximum concurrent worker invocations (event source mapping maximumConcurrency, 2–1000):
   * size it to the database and the KMS request quota.
   * @default QUEUE_DEFAULTS.maxConcurrency (4)
   */
  readonly maxConcurrency?: number;
  /**
   * Batch messages per worker invocation (1–10).
   * @default QUEUE_DEFAULTS.workerBatchSize (5)
   */
  readonly workerBatchSize?: number;
  /**
   * Deliveries of a batch message before it moves to the DLQ (1–1000).
   * @default QUEUE_DEFAULTS.maxReceiveCount (5)
   */
  readonly maxReceiveCount?: number;
  /**
   * Worker timeout; the queue's visibility timeout is 6 × this. At least one batch's budget
   * (WORKER_BUDGET: a 45 s Data API statement plus retries) and start-up; at most 15 minutes.
   * @default FUNCTION_TIMEOUTS.worker (3 minutes)
   */
  readonly workerTimeout?: Duration;
  /**
   * Reserved concurrency of the worker. Off by default: maximumConcurrency already caps
   * SQS-driven invocations, and reserving fails deployment in accounts with a low
   * concurrency quota. When set it must be ≥ maxConcurrency.
   * @default - unreserved
   */
  readonly workerReservedConcurrency?: number;
  /**
   * Batches one Enqueue invocation sends.
   * @default JOB_DEFAULTS.enqueueBatchesPerInvocation (10,000)
   */
  readonly enqueueBatchesPerInvocation?: number;
  /**
   * Shortest wait of the progress loop, in seconds.
   * @default PROGRESS_DEFAULTS.minWaitSeconds (30)
   */
  readonly progressMinWaitSeconds?: number;
  /**
   * Longest wait of the progress loop, in seconds.
   * @default PROGRESS_DEFAULTS.maxWaitSeconds (900)
   */
  readonly progressMaxWaitSeconds?: number;
  /**
   * Execution timeout: at most the 14-day SQS retention of the batch messages.
   * @default STATE_MACHINE_DEFAULTS.executionTimeout (14 days)
   */
  readonly executionTimeout?: Duration;
  /**
   * Days a key may stay `rotating` with rows under it before the inventory reports them overdue.
   * @default SCHEDULE_DEFAULTS.retiringKeyGraceDays (7)
   */
  readonly retiringKeyGraceDays?: number;
}

export interface ReencryptionPipelineProps extends ReencryptionPipelineTuning {
  /** Encrypts the batch queue, its DLQ and every log group (and, for the kms keyring, the data keys). */
  readonly key: IKey;
  /** The database the functions reach through the RDS Data API. */
  readonly database: DataApiDatabase;
  /** The keyring the worker and Verify use. */
  readonly keyring: KeyringAccess;
  /** The encrypted-column registry (rekey.config.json's content). */
  readonly registry: EncryptedColumnRegistry;
  /**
   * The secret holding the keys of the registry's Fernet tables (the application's ENCRYPTION_KEY /
   * ENCRYPTION_KEY_FALLBACK as JSON). Required when a table has format "fernet".
   * @default none
   */
  readonly legacyKeysSecret?: LegacyKeysSecret;
  /**
   * Trial stacks: ValidateInput and Inventory create the example table (EXAMPLE_TABLE) if missing.
   * @default false
   */
  readonly createExampleTable?: boolean;
}

/**
 * The re-encryption engine on AWS: a Standard state machine (see
 * reencryption-definition.ts) plans a job and enqueues one SQS message per
 * batch; Lambda workers consume them through an event source mapping with
 * maximum concurrency and partial batch failures; a message that keeps
 * failing moves to the DLQ after a bounded number of receives. Also the
 * inventory function the daily schedule invokes.
 */
export class ReencryptionPipeline extends Construct {
  readonly stateMachine: StateMachine;
  readonly stateMachineLogGroup: LogGroup;
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly worker: NodejsFunction;
  readonly workerEventSource: SqsEventSource;
  /** The task functions, by role. */
  readonly tasks: Readonly<Record<keyof ReencryptionTaskFunctions, RekeyFunction>>;
  readonly inventory: RekeyFunction;
  /** Every function of the pipeline (tasks, worker, inventory). */
  readonly functions: readonly RekeyFunction[];

  constructor(scope: Construct, id: string, props: ReencryptionPipelineProps) {
    super(scope, id);
    const problems = PropsProblems.for(`ReencryptionPipeline ${this.node.path}`);
    const settings = checkPipelineProps(problems, props);
    checkRegistry(problems, 'registry', props.registry);
    checkLegacyKeysProps(problems, props.registry, props.legacyKeysSecret);
    problems.throwIfAny();
    const { key } = props;
    allowCloudWatchLogs(key);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: QUEUE_DEFAULTS.dlqRetention,
    });
    this.queue = new Queue(this, 'BatchQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: QUEUE_DEFAULTS.retention,
      visibilityTimeout: Duration.seconds(settings.workerTimeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutFactor),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
    });

    const registry = { [ENV.registry]: JSON.stringify(props.registry) };
    const dbEnv = databaseEnvironment(props.database);
    const keyringEnv = keyringEnvironment(key, props.keyring);
    const db = (): PolicyStatement[] => databaseStatements(props.database);
    const keys = (): PolicyStatement[] => keyringStatements(key, props.keyring);
    // Functions that classify, rotate or count Fernet values: ValidateInput registers the Fernet keys in the catalog
    // (Plan's job targets the active one), Plan/Verify/Finalize/Inventory tell which key a token is under, the worker rotates.
    const legacyEnv = legacyKeysEnvironment(props.legacyKeysSecret);
    const legacyKeys = (): PolicyStatement[] => legacyKeysStatements(this, props.legacyKeysSecret);
    const fn = (
      id: string,
      handler: string,
      timeout: Duration,
      environment: Record<string, string>,
      statements: PolicyStatement[],
      extra: { memorySize?: number; reservedConcurrentExecutions?: number } = {},
    ): RekeyFunction => new RekeyFunction(this, id, { handler, key, timeout, environment, statements, ...extra });

    const sendBatches = [
      new PolicyStatement({ actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], resources: [this.queue.queueArn] }),
      // SQS asks KMS for the data key that encrypts the messages on the sender's behalf.
      kmsStatement(key, ['kms:GenerateDataKey', 'kms:Decrypt'], { viaService: 'sqs' }),
    ];
    const stuckEnv = {
      [ENV.jobQueueUrl]: this.queue.queueUrl,
      [ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
      // Longer than a message's invisibility after a receive, so a batch a worker just took is never called stuck.
      [ENV.stuckAfterSeconds]: String(
        Math.max(900, settings.workerTimeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutFactor * 2),
      ),
    };
    const readDeadLetters = [
      new PolicyStatement({
        actions: ['sqs:GetQueueAttributes'],
        resources: [this.queue.queueArn, this.deadLetterQueue.queueArn],
      }),
      new PolicyStatement({
        actions: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'],
        resources: [this.deadLetterQueue.queueArn],
      }),
      kmsStatement(key, ['kms:Decrypt'], { viaService: 'sqs' }),
    ];
    // Every handler builds the same engine runtime (database + registry); only some also hold keys.
    const base = { ...dbEnv, ...registry };
    // The first functions to reach a trial database: the first state of every execution, and the schedule's inventory.
    const trialEnv: Record<string, string> = props.createExampleTable ? { [ENV.trialExampleTable]: 'true' } : {};
    const tasks = {
      // kms: ValidateInput registers the stack's KMS key in the catalog from its id alone (no KMS permission
      // needed); hierarchical: the keyset rotation registers its KEKs (keyset-rotation.ts).
      validateInput: fn(
        'ValidateInput',
        'validate-input',
        FUNCTION_TIMEOUTS.validateInput,
        { ...base, ...trialEnv, ...legacyEnv, ...(props.keyring.kind === 'kms' ? keyringEnv : {}) },
        [...db(), ...legacyKeys()],
      ),
      plan: fn('Plan', 'plan', FUNCTION_TIMEOUTS.plan, { ...base, ...legacyEnv }, [...db(), ...legacyKeys()]),
      enqueue: fn(
        'Enqueue',
        'enqueue',
        FUNCTION_TIMEOUTS.enqueue,
        { ...base, [ENV.jobQueueUrl]: this.queue.queueUrl },
        [...db(), ...sendBatches],
      ),
      // Stuck batches (functions/core/pipeline/stuck-batches.ts): reads both queues' depth and the DLQ's messages, consuming nothing.
      progress: fn('Progress', 'progress', FUNCTION_TIMEOUTS.progress, { ...base, ...stuckEnv }, [
        ...db(),
        ...readDeadLetters,
      ]),
      verify: fn('Verify', 'verify', FUNCTION_TIMEOUTS.verify, { ...base, ...keyringEnv, ...legacyEnv }, [
        ...db(),
        ...keys(),
        ...legacyKeys(),
      ]),
      finalize: fn('Finalize', 'finalize', FUNCTION_TIMEOUTS.finalize, { ...base, ...legacyEnv }, [
        ...db(),
        ...legacyKeys(),
      ]),
      abort: fn('Abort', 'abort', FUNCTION_TIMEOUTS.abort, base, db()),
      markFailed: fn('MarkFailed', 'mark-failed', FUNCTION_TIMEOUTS.markFailed, base, db()),
    };
    this.tasks = tasks;

    const worker = fn(
      'Worker',
      'worker',
      settings.workerTimeout,
      {
        ...base,
        ...keyringEnv,
        ...legacyEnv,
        [ENV.workerBatchBudgetMs]: String(WORKER_BUDGET.batchBudget.toMilliseconds()),
      },
      [...db(), ...keys(), ...legacyKeys()],
      {
        memorySize: FUNCTION_DEFAULTS.workerMemoryMiB,
        reservedConcurrentExecutions: props.workerReservedConcurrency,
      },
    );
    this.worker = worker.function;
    this.workerEventSource = new SqsEventSource(this.queue, {
      batchSize: settings.workerBatchSize,
      maxConcurrency: settings.maxConcurrency,
      // The worker reports the batch messages it could not finish; the others are deleted (Powertools batch).
      reportBatchItemFailures: true,
    });
    this.worker.addEventSource(this.workerEventSource);

    this.inventory = fn(
      'Inventory',
      'inventory',
      FUNCTION_TIMEOUTS.inventory,
      { ...base, ...trialEnv, ...legacyEnv, [ENV.retiringKeyGraceDays]: String(settings.retiringKeyGraceDays) },
      [...db(), ...legacyKeys()],
    );
    this.functions = [...Object.values(tasks), worker, this.inventory];

    this.stateMachineLogGroup = new LogGroup(this, 'StateMachineLogs', {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' account resource policy from growing per state machine.
      // The stack id's UUID makes the name unique per stack creation: the group is retained on delete, and a
      // stack destroyed and deployed again under the same name gets a new group instead of colliding with it.
      logGroupName: `/aws/vendedlogs/states/${Stack.of(this).stackName}-${Fn.select(2, Fn.split('/', Aws.STACK_ID))}`,
      encryptionKey: key,
      retention: FUNCTION_DEFAULTS.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const definition = buildReencryptionDefinition(
      this,
      {
        validateInput: tasks.validateInput.function,
        plan: tasks.plan.function,
        enqueue: tasks.enqueue.function,
        progress: tasks.progress.function,
        verify: tasks.verify.function,
        finalize: tasks.finalize.function,
        abort: tasks.abort.function,
        markFailed: tasks.markFailed.function,
      },
      {
        batchSize: settings.batchSize,
        maxErrorRate: settings.maxErrorRate,
        maxTables: JOB_DEFAULTS.maxTablesPerExecution,
        enqueueBatchesPerInvocation: settings.enqueueBatchesPerInvocation,
        minWaitSeconds: settings.minWaitSeconds,
        maxWaitSeconds: settings.maxWaitSeconds,
        waitFraction: PROGRESS_DEFAULTS.waitFraction,
      },
    );
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: 'rekey: plan, fan batches out through SQS to Lambda workers, watch progress, verify, retire the old key',
      definitionBody: DefinitionBody.fromChainable(definition),
      stateMachineType: StateMachineType.STANDARD,
      queryLanguage: QueryLanguage.JSON_PATH,
      timeout: settings.executionTimeout,
      tracingEnabled: true,
      // Payloads are ids and counts only, so logging execution data exposes no secret.
      logs: { destination: this.stateMachineLogGroup, level: LogLevel.ALL, includeExecutionData: true },
    });
    const role = this.stateMachine.role;
    acknowledge(
      role,
      'AwsSolutions-IAM5[Resource::*]',
      'Step Functions log delivery (logs:CreateLogDelivery, ...) and X-Ray (xray:PutTraceSegments, ...) support no resource-level permissions.',
    );
    for (const task of Object.values(tasks)) {
      acknowledge(
        role,
        wildcardResourceFindingId(role, `${task.function.functionArn}:*`),
        'LambdaInvoke grants the task function and its versions/aliases (<arn>:*); only this function is reachable.',
      );
    }
  }
}

export interface PipelineSettings {
  batchSize: number;
  maxErrorRate: number;
  maxConcurrency: number;
  workerBatchSize: number;
  maxReceiveCount: number;
  workerTimeout: Duration;
  enqueueBatchesPerInvocation: number;
  minWaitSeconds: number;
  maxWaitSeconds: number;
  executionTimeout: Duration;
  retiringKeyGraceDays: number;
}

/** Adds a problem for every invalid tunable, and returns the settings with defaults applied. */
export function checkPipelineProps(problems: PropsProblems, props: ReencryptionPipelineTuning): PipelineSettings {
  const s: PipelineSettings = {
    batchSize: props.batchSize ?? JOB_DEFAULTS.batchSize,
    maxErrorRate: props.maxErrorRate ?? JOB_DEFAULTS.maxErrorRate,
    maxConcurrency: props.maxConcurrency ?? QUEUE_DEFAULTS.maxConcurrency,
    workerBatchSize: props.workerBatchSize ?? QUEUE_DEFAULTS.workerBatchSize,
    maxReceiveCount: props.maxReceiveCount ?? QUEUE_DEFAULTS.maxReceiveCount,
    workerTimeout: props.workerTimeout ?? FUNCTION_TIMEOUTS.worker,
    enqueueBatchesPerInvocation: props.enqueueBatchesPerInvocation ?? JOB_DEFAULTS.enqueueBatchesPerInvocation,
    minWaitSeconds: props.progressMinWaitSeconds ?? PROGRESS_DEFAULTS.minWaitSeconds,
    maxWaitSeconds: props.progressMaxWaitSeconds ?? PROGRESS_DEFAULTS.maxWaitSeconds,
    executionTimeout: props.executionTimeout ?? STATE_MACHINE_DEFAULTS.executionTimeout,
    retiringKeyGraceDays: props.retiringKeyGraceDays ?? SCHEDULE_DEFAULTS.retiringKeyGraceDays,
  };
  // One validator with the engine's (core/job-settings.ts); tokens are checked at deploy time, not here.
  const resolved = (value: number | undefined): number | undefined =>
    value === undefined || Token.isUnresolved(value) ? undefined : value;
  const bounded = jobSettingProblems(
    {
      batchSize: resolved(s.batchSize),
      maxErrorRate: resolved(s.maxErrorRate),
      maxConcurrency: resolved(s.maxConcurrency),
      workerBatchSize: resolved(s.workerBatchSize),
      maxReceiveCount: resolved(s.maxReceiveCount),
      enqueueBatchesPerInvocation: resolved(s.enqueueBatchesPerInvocation),
      progressMinWaitSeconds: resolved(s.minWaitSeconds),
      progressMaxWaitSeconds: resolved(s.maxWaitSeconds),
      retiringKeyGraceDays: resolved(s.retiringKeyGraceDays),
      workerReservedConcurrency: resolved(props.workerReservedConcurrency),
    },
    String,
  );
  for (const { setting, problem } of bounded) problems.add(setting, problem);
  problems.check(
    s.minWaitSeconds <= s.maxWaitSeconds,
    'progressMaxWaitSeconds',
    `must be ≥ progressMinWaitSeconds (${s.minWaitSeconds}), got ${s.maxWaitSeconds}`,
  );
  if (!Token.isUnresolved(s.workerTimeout.toSeconds({ integral: false }))) {
    const seconds = s.workerTimeout.toSeconds({ integral: false });
    const min = WORKER_BUDGET.batchBudget.toSeconds() + WORKER_BUDGET.startup.toSeconds();
    problems.check(
      Number.isInteger(seconds) && seconds >= min && seconds <= 900,
      'workerTimeout',
      `must be whole seconds from ${min} s (one batch's budget: a ${WORKER_BUDGET.dataApiStatement.toSeconds()} s Data API statement plus retries, and start-up) to 15 minutes, got ${seconds} s`,
    );
  }
  const maxTimeout = QUEUE_DEFAULTS.retention.toDays();
  problems.check(
    s.executionTimeout.toSeconds() >= 60 && s.executionTimeout.toDays({ integral: false }) <= maxTimeout,
    'executionTimeout',
    `must be from 1 minute to ${maxTimeout} days (the SQS retention of batch messages), got ${s.executionTimeout.toHumanString()}`,
  );
  const pacingValid =
    s.minWaitSeconds >= 1 &&
    s.maxWaitSeconds >= s.minWaitSeconds &&
    s.batchSize >= 1 &&
    s.enqueueBatchesPerInvocation >= 1;
  if (pacingValid && !Token.isUnresolved(s.executionTimeout.toSeconds())) {
    const events = worstCaseHistoryEvents({
      minWaitSeconds: s.minWaitSeconds,
      maxWaitSeconds: s.maxWaitSeconds,
      waitFraction: PROGRESS_DEFAULTS.waitFraction,
      timeoutSeconds: s.executionTimeout.toSeconds(),
      rows: REFERENCE_ROWS,
      batchSize: s.batchSize,
      batchesPerEnqueue: s.enqueueBatchesPerInvocation,
    });
    problems.check(
      events <= HISTORY_EVENT_BUDGET,
      'progressMaxWaitSeconds',
      `with executionTimeout ${s.executionTimeout.toHumanString()} an execution over ${REFERENCE_ROWS.toLocaleString('en')} rows may record ${events} history events; keep it under ${HISTORY_EVENT_BUDGET} (of ${HISTORY_EVENT_LIMIT}) by waiting longer between progress checks or shortening executionTimeout`,
    );
  }
  if (props.workerReservedConcurrency !== undefined) {
    problems.check(
      props.workerReservedConcurrency >= s.maxConcurrency,
      'workerReservedConcurrency',
      `must be ≥ maxConcurrency (${s.maxConcurrency}), or the event source mapping is throttled; got ${props.workerReservedConcurrency}`,
    );
  }
  return s;
}
