/**
 * The environment variables of the rekey functions, in one place: the stack
 * (lib/, through lib/environment.ts) sets them by these names and the
 * containers (functions/runtime) read them by the same names, so a name
 * changed on one side only fails to compile instead of leaving a function
 * with an empty setting. Like metrics-names.ts: plain values, no imports,
 * safe in the CDK app and in a Lambda bundle. Only ids, ARNs, names and
 * numbers travel here, never key material (docs/state-machine.md).
 */
export const ENV = {
  /** 'hierarchical' | 'kms'. */
  keyringKind: 'KEYRING_KIND',
  /** The stack's KMS key ARN (root of the hierarchy, or the kms keyring's key). */
  kmsKeyArn: 'KMS_KEY_ARN',
  /** Secrets Manager keyset secret ARN (hierarchical keyring only). */
  keysetSecretArn: 'KEYSET_SECRET_ARN',
  /**
   * The legacy keys secret ARN (functions/runtime/legacy-keys.ts): the applications' own Fernet /
   * raw KEK variables as one JSON SecretString, read once per container. Only functions that
   * classify, rotate or count Fernet / JSON key_id values get it.
   */
  legacyKeysSecretArn: 'LEGACY_KEYS_SECRET_ARN',
  /** Aurora cluster ARN for the Data API. */
  dbClusterArn: 'DB_CLUSTER_ARN',
  /** Data API credentials secret ARN. */
  dbSecretArn: 'DB_SECRET_ARN',
  /** Database name for the Data API. */
  dbName: 'DB_NAME',
  /** The encrypted-column registry, compact JSON (rekey.config.json's content). */
  registry: 'REKEY_REGISTRY',
  /** URL of the batch queue (Enqueue and Progress). */
  jobQueueUrl: 'JOB_QUEUE_URL',
  /** URL of the batch queue's DLQ (Progress: a job whose batches sit there fails as stuck). */
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  /** Progress: seconds without batch activity before a job with batches in the DLQ is stuck. */
  stuckAfterSeconds: 'STUCK_AFTER_SECONDS',
  /** The re-encryption state machine (rotation hook: finishSecret starts a rewrap). */
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** 'true' on a trial stack only: the functions create the example table (functions/core/schema/example-table.ts). */
  trialExampleTable: 'REKEY_TRIAL_EXAMPLE_TABLE',
  /** Worker: milliseconds of remaining invocation time one batch needs; below it the worker claims no more batches. */
  workerBatchBudgetMs: 'WORKER_BATCH_BUDGET_MS',
  /** Inventory: days a key may stay `rotating` before its rows count as overdue. */
  retiringKeyGraceDays: 'RETIRING_KEY_GRACE_DAYS',
} as const;

/** Powertools' own variables, set by the stack on every function (lib/rekey-function.ts) and read by handlers/shared/powertools.ts. */
export const POWERTOOLS_ENV = {
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/**
 * Variables the functions read that the stack does not set: the Lambda
 * service's own, the operator's switches, and the local runtime's and the
 * tests' overrides.
 */
export const RUNTIME_ENV = {
  /** Set by Lambda: the function's name, for the audit log's actor and the keyless keyring. */
  lambdaFunctionName: 'AWS_LAMBDA_FUNCTION_NAME',
  /** Set by Lambda: the region, recorded on a plan. */
  region: 'AWS_REGION',
  /** A PostgreSQL URL instead of the Data API variables (the local runtime, tests, the CLI). */
  databaseUrl: 'DATABASE_URL',
  /** The SQS endpoint the SDK uses: the local runtime points it at moto (possibly after a client was built). */
  sqsEndpoint: 'AWS_ENDPOINT_URL_SQS',
  /** The kms keyring's keys, `id=arn,…` primary first (the stack sets KMS_KEY_ARN instead). */
  kmsKeys: 'REKEY_KMS_KEYS',
  /** The catalog id of KMS_KEY_ARN when REKEY_KMS_KEYS is not set. */
  kmsKeyId: 'REKEY_KMS_KEY_ID',
  /** The registry as JSON, for processes without a rekey.config.json (the CLI's fallback). */
  registryJson: 'REKEY_REGISTRY_JSON',
  /** The CLI's and the applications' keyring: raw | hierarchical | kms (runtime/keyring-from-env.ts). */
  keyring: 'REKEY_KEYRING',
  /** The CLI's and the applications' keyset secret (the stack's functions get KEYSET_SECRET_ARN). */
  cliKeysetSecretArn: 'REKEY_KEYSET_SECRET_ARN',
  /** Who the CLI acts as in the audit log (else USER). */
  actor: 'REKEY_ACTOR',
  /** Test-only (runtime/test-pause-hook.ts): `<fault point>:<n>` pauses there so a test can kill the process. */
  testPauseAt: 'REKEY_TEST_PAUSE_AT',
  /** Test-only: how long that pause lasts at most. */
  testPauseMs: 'REKEY_TEST_PAUSE_MS',
  /** 'true' on the rotation function: two-phase keyset rotation (docs/readers.md). Set by the operator. */
  rotationTwoPhase: 'REKEY_ROTATION_TWO_PHASE',
} as const;

/** The value a function uses when the variable is not set; the stack's own settings import them too. */
export const ENV_DEFAULTS = {
  /**
   * STUCK_AFTER_SECONDS: longer than a batch message's round trip through the
   * queue (visibility timeout 6 × the 60 s worker timeout) and than a lease
   * (5 min), so a redelivered duplicate or a slow claim is never taken for stuck.
   */
  stuckAfterSeconds: 900,
  /** RETIRING_KEY_GRACE_DAYS. */
  retiringKeyGraceDays: 7,
  /**
   * WORKER_BATCH_BUDGET_MS: the RDS Data API stops a statement after 45 s, the
   * adapter retries transient failures with back-off, and a batch makes a few
   * more calls (claim, read, write, counters). core/pipeline/time-budget.ts.
   */
  workerBatchBudgetMs: 75_000,
  /** The keyless functions' actor name outside Lambda. */
  lambdaFunctionName: 'rekey-pipeline',
  /** REKEY_KMS_KEY_ID. */
  kmsKeyId: 'kms-v1',
} as const;
