/**
 * Environment variables the stack sets on the rekey functions. The handlers
 * read them by these names (documented in docs/state-machine.md); only ids,
 * ARNs, names and numbers travel here, never key material.
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

export type { KeyringKind } from '../functions/core/keyring-kinds';
