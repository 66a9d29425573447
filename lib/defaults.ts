import { Duration } from 'aws-cdk-lib';
import { Runtime, Architecture } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ENV_DEFAULTS } from '../functions/core/environment-names';
import { DATA_API_STATEMENT_LIMIT_MS } from '../functions/core/pipeline/time-budget';
import { PIPELINE_SHAPE } from '../functions/core/plan/pipeline-shape';

/**
 * Every secure default of the rekey stack, in one place. Constructs read their
 * defaults from here and nowhere else, so docs/alarms.md and
 * docs/state-machine.md can point at one file.
 */

/** Lambda settings shared by every rekey function. */
export const FUNCTION_DEFAULTS = {
  /** The newest Node.js runtime this aws-cdk-lib knows (cdk-nag AwsSolutions-L1 checks exactly that). */
  runtime: Runtime.NODEJS_24_X,
  architecture: Architecture.ARM_64,
  /** Task functions: enough CPU for the Data API client and JSON, no crypto. */
  taskMemoryMiB: PIPELINE_SHAPE.taskMemoryMiB,
  /** The worker does the crypto: Lambda gives CPU in proportion to memory (1,769 MB = one vCPU). */
  workerMemoryMiB: PIPELINE_SHAPE.workerMemoryMiB,
  logRetention: RetentionDays.ONE_YEAR,
  logLevel: 'INFO',
} as const;

/** Timeouts per function (seconds). Plan, Verify and Inventory count whole tables; the rest are short. */
export const FUNCTION_TIMEOUTS = {
  validateInput: Duration.seconds(30),
  plan: Duration.minutes(15),
  enqueue: Duration.minutes(5),
  progress: Duration.minutes(1),
  verify: Duration.minutes(15),
  finalize: Duration.minutes(2),
  abort: Duration.minutes(2),
  markFailed: Duration.minutes(1),
  /** Room for several batches of WORKER_BUDGET each; the worker stops claiming when less than one budget is left. */
  worker: Duration.minutes(3),
  rotation: Duration.minutes(5),
  inventory: Duration.minutes(15),
} as const;

/**
 * The worker's time budget. A batch makes a handful of Data API calls, any of
 * which may run up to the service's 45 s statement limit and be retried; the
 * worker claims a batch only while the invocation has at least `batchBudget`
 * left, and reports the rest of the delivery as batch item failures (SQS
 * delivers them again), so the timeout never cuts a batch in the middle.
 */
export const WORKER_BUDGET = {
  /** The RDS Data API's limit on one statement (ExecuteStatement times out after 45 s). */
  dataApiStatement: Duration.millis(DATA_API_STATEMENT_LIMIT_MS),
  /** One batch: a 45 s statement plus the Data API adapter's retry back-off and the remaining calls (the worker's own default). */
  batchBudget: Duration.millis(ENV_DEFAULTS.workerBatchBudgetMs),
  /** Cold start: building the runtime (keyset fetch and unwrap, catalog). */
  startup: Duration.seconds(15),
} as const;

/**
 * The re-encryption job defaults (batch size, maximum error rate, tables per execution, batches per Enqueue), also
 * passed to ValidateInput so an execution input may omit them. Defined once, with their bounds, in
 * functions/core/job-settings.ts: the engine, the CLI and the handlers read the same values.
 */
export { JOB_BOUNDS, JOB_DEFAULTS } from '../functions/core/job-settings';

/** The progress loop: wait = clamp(ceil(elapsed × waitFraction), min, max). See docs/state-machine.md. */
export const PROGRESS_DEFAULTS = {
  minWaitSeconds: PIPELINE_SHAPE.progress.minWaitSeconds,
  maxWaitSeconds: PIPELINE_SHAPE.progress.maxWaitSeconds,
  /** Each wait is this fraction of the time the job has run: polls grow logarithmically, then linearly at max. */
  waitFraction: PIPELINE_SHAPE.progress.waitFraction,
} as const;

/** The state machine. */
export const STATE_MACHINE_DEFAULTS = {
  /** = the SQS retention: a batch message older than that would be gone. Inside the 25,000-event budget (docs). */
  executionTimeout: Duration.days(14),
  /** Transient Lambda service errors. */
  serviceRetry: { interval: Duration.seconds(2), maxAttempts: 6, backoffRate: 2, maxDelay: Duration.seconds(60) },
  /** Errors thrown by a handler: tasks are idempotent, so a few spaced retries are safe. */
  taskRetry: { interval: Duration.seconds(5), maxAttempts: 3, backoffRate: 2, maxDelay: Duration.seconds(60) },
} as const;

/** SQS + the worker's event source mapping. */
export const QUEUE_DEFAULTS = {
  /** Messages (batches) per worker invocation. */
  workerBatchSize: PIPELINE_SHAPE.workerBatchSize,
  /**
   * Concurrent worker invocations the event source mapping may run: sized to
   * the database (each worker holds Data API calls open) and the KMS request
   * quota (kms keyring: one ReEncrypt per row). 2 is the ESM minimum.
   */
  maxConcurrency: PIPELINE_SHAPE.maxConcurrency,
  /** Deliveries before a batch message moves to the DLQ. */
  maxReceiveCount: 5,
  /** Lambda's guidance for SQS event sources: visibility ≥ 6 × function timeout. */
  visibilityTimeoutFactor: 6,
  /** The SQS maximum: a big job's last batches may wait days. */
  retention: Duration.days(14),
  /** The DLQ keeps messages as long as SQS allows, for inspection and redrive. */
  dlqRetention: Duration.days(14),
} as const;

/** EventBridge Scheduler and the Secrets Manager rotation schedule. */
export const SCHEDULE_DEFAULTS = {
  /** The runbooks rotate every 90 days. */
  rotationEvery: Duration.days(90),
  /** Length of the keyset's rotation window: Secrets Manager rotates at some time inside it (a rate in days starts it at 00:00 UTC). */
  rotationWindow: Duration.hours(4),
  /** Daily inventory, 03:15 UTC. */
  inventoryCron: { minute: '15', hour: '3' },
  /** Scheduler retries a failed target call this many times within maxEventAge. */
  retryAttempts: 3,
  maxEventAge: Duration.hours(6),
  /** Days a key may stay `rotating` with rows still under it before the overdue alarm fires. */
  retiringKeyGraceDays: ENV_DEFAULTS.retiringKeyGraceDays,
} as const;

/**
 * Alarm thresholds: the runbooks' numbers (field-level-encryption-deployment.md
 * §6, multi-tenant-secrets-deployment.md "Monitoring & Alerts",
 * tls-and-at-rest-encryption-playbook.md). docs/alarms.md maps each one.
 */
export const ALARM_DEFAULTS = {
  /** `encryption_errors_total > 10 in 5 minutes`. */
  encryptionErrors: 10,
  /** `decrypt status=error > 5 in 5 minutes`. */
  decryptionErrors: 5,
  /** Percent: `> 1 % of records fail to encrypt`. */
  failedRowsPercent: 1,
  /** Percent: `Rotation success rate < 99 %`. */
  rotationSuccessPercent: 99,
  /** `Rotation duration p95 < 5 minutes`. */
  rotationDuration: Duration.minutes(5),
  /**
   * Batches visible while none is deleted for this long = the pipeline is stalled. Not the age of the
   * oldest message: a job enqueues all its batches at once, so a healthy large job has old messages.
   */
  pipelineStalledFor: Duration.minutes(30),
  /** Period of the stalled-pipeline metric math (SQS publishes queue metrics every minute). */
  stalledPeriod: Duration.minutes(5),
  /** ACM certificates: re-issue "at least 14 days before expiry". */
  certificateExpiryDays: 14,
  /** Evaluation window of the error alarms (the runbooks' "in 5 minutes"). */
  errorPeriod: Duration.minutes(5),
  /** Rotations are rare: evaluate their rate and duration per hour. */
  rotationPeriod: Duration.hours(1),
} as const;

/** The stack's KMS key. */
export const KEY_DEFAULTS = {
  /** Yearly automatic rotation of the KMS key material (KMS default; 90–2560 days allowed). */
  rotationPeriod: Duration.days(365),
  /** KMS waiting period before a scheduled deletion (the maximum). */
  pendingWindow: Duration.days(30),
} as const;

/** The optional trial database (Aurora Serverless v2 PostgreSQL with the Data API). */
export const TRIAL_DATABASE_DEFAULTS = {
  databaseName: 'rekey',
  /** Not 5432: cdk-nag AwsSolutions-RDS11; the Data API does not use the port. */
  port: 15432,
  minCapacity: 0.5,
  maxCapacity: 2,
  backupRetention: Duration.days(7),
  /** A trial is throwaway: `cdk destroy` must be able to delete it (a final snapshot is kept, RemovalPolicy.SNAPSHOT). */
  deletionProtection: false,
  maxAzs: 2,
} as const;

/** The Lambda environment is limited to 4 KB in total; the registry travels in it. */
export const REGISTRY_MAX_BYTES = 3072;
