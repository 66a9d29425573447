import type { Duration } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { BatchQueues } from './batch-queues';
import { databaseEnvironment, databaseStatements } from './database';
import { FUNCTION_DEFAULTS, FUNCTION_TIMEOUTS, QUEUE_DEFAULTS, WORKER_BUDGET } from './defaults';
import { ENV, ENV_DEFAULTS } from './environment';
import { kmsStatement } from './iam';
import { keyringEnvironment, keyringStatements } from './keyring-access';
import { legacyKeysEnvironment, legacyKeysStatements } from './legacy-keys-access';
import type { PipelineSettings } from './pipeline-settings';
import type { ReencryptionTaskFunctions } from './reencryption-definition';
import type { ReencryptionPipelineProps } from './reencryption-pipeline';
import { RekeyFunction } from './rekey-function';

/**
 * The pipeline's Lambda functions: the state machine's tasks, the SQS worker
 * and the inventory. Each gets the environment and the permissions of its job
 * and nothing more; the shared parts (database, registry, keyring, Fernet
 * keys) are built once here and handed to each.
 */
export interface PipelineFunctions {
  readonly tasks: Readonly<Record<keyof ReencryptionTaskFunctions, RekeyFunction>>;
  readonly worker: RekeyFunction;
  readonly inventory: RekeyFunction;
}

type Environment = Record<string, string>;

/** The environment fragments and statement builders the functions share. */
interface FunctionParts {
  /** Every handler builds the same engine runtime (database + registry). */
  readonly base: Environment;
  /** Trial stacks: the first functions to reach the database create the example table. */
  readonly trial: Environment;
  readonly keyring: Environment;
  readonly legacyKeys: Environment;
  readonly dbStatements: () => PolicyStatement[];
  readonly keyStatements: () => PolicyStatement[];
  readonly legacyKeyStatements: () => PolicyStatement[];
  readonly fn: (
    id: string,
    handler: string,
    timeout: Duration,
    environment: Environment,
    statements: PolicyStatement[],
    extra?: { memorySize?: number; reservedConcurrentExecutions?: number },
  ) => RekeyFunction;
}

function functionParts(scope: Construct, props: ReencryptionPipelineProps): FunctionParts {
  const { key } = props;
  return {
    base: { ...databaseEnvironment(props.database), [ENV.registry]: JSON.stringify(props.registry) },
    trial: props.createExampleTable ? { [ENV.trialExampleTable]: 'true' } : {},
    keyring: keyringEnvironment(key, props.keyring),
    // Functions that classify, rotate or count Fernet values: ValidateInput registers the Fernet keys in the catalog
    // (Plan's job targets the active one), Plan/Verify/Finalize/Inventory tell which key a token is under, the worker rotates.
    legacyKeys: legacyKeysEnvironment(props.legacyKeysSecret),
    dbStatements: () => databaseStatements(props.database),
    keyStatements: () => keyringStatements(key, props.keyring),
    legacyKeyStatements: () => legacyKeysStatements(scope, props.legacyKeysSecret),
    fn: (id, handler, timeout, environment, statements, extra = {}) =>
      new RekeyFunction(scope, id, { handler, key, timeout, environment, statements, ...extra }),
  };
}

/** Enqueue: send batch messages to the (KMS-encrypted) batch queue. */
export function sendBatchesStatements(key: IKey, queues: BatchQueues): PolicyStatement[] {
  return [
    new PolicyStatement({ actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], resources: [queues.queue.queueArn] }),
    // SQS asks KMS for the data key that encrypts the messages on the sender's behalf.
    kmsStatement(key, ['kms:GenerateDataKey', 'kms:Decrypt'], { viaService: 'sqs' }),
  ];
}

/** Progress: read both queues' depth and the DLQ's messages, consuming nothing (functions/core/pipeline/stuck-batches.ts). */
export function readDeadLettersStatements(key: IKey, queues: BatchQueues): PolicyStatement[] {
  return [
    new PolicyStatement({
      actions: ['sqs:GetQueueAttributes'],
      resources: [queues.queue.queueArn, queues.deadLetterQueue.queueArn],
    }),
    new PolicyStatement({
      actions: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'],
      resources: [queues.deadLetterQueue.queueArn],
    }),
    kmsStatement(key, ['kms:Decrypt'], { viaService: 'sqs' }),
  ];
}

/** Progress: where to look for stuck batches, and after how long a quiet batch counts as stuck. */
export function stuckBatchEnvironment(queues: BatchQueues, settings: PipelineSettings): Environment {
  return {
    [ENV.jobQueueUrl]: queues.queue.queueUrl,
    [ENV.deadLetterQueueUrl]: queues.deadLetterQueue.queueUrl,
    // Longer than a message's invisibility after a receive, so a batch a worker just took is never called stuck.
    [ENV.stuckAfterSeconds]: String(
      Math.max(
        ENV_DEFAULTS.stuckAfterSeconds,
        settings.workerTimeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutFactor * 2,
      ),
    ),
  };
}

/** The state machine's tasks, each with the environment and permissions of its step (docs/state-machine.md). */
function buildTaskFunctions(
  parts: FunctionParts,
  props: ReencryptionPipelineProps,
  queues: BatchQueues,
  settings: PipelineSettings,
): PipelineFunctions['tasks'] {
  const { base, trial, keyring, legacyKeys, dbStatements: db, keyStatements: keys, legacyKeyStatements, fn } = parts;
  return {
    // kms: ValidateInput registers the stack's KMS key in the catalog from its id alone (no KMS permission
    // needed); hierarchical: the keyset rotation registers its KEKs (keyset-rotation.ts).
    validateInput: fn(
      'ValidateInput',
      'validate-input',
      FUNCTION_TIMEOUTS.validateInput,
      { ...base, ...trial, ...legacyKeys, ...(props.keyring.kind === 'kms' ? keyring : {}) },
      [...db(), ...legacyKeyStatements()],
    ),
    plan: fn('Plan', 'plan', FUNCTION_TIMEOUTS.plan, { ...base, ...legacyKeys }, [...db(), ...legacyKeyStatements()]),
    enqueue: fn(
      'Enqueue',
      'enqueue',
      FUNCTION_TIMEOUTS.enqueue,
      { ...base, [ENV.jobQueueUrl]: queues.queue.queueUrl },
      [...db(), ...sendBatchesStatements(props.key, queues)],
    ),
    progress: fn(
      'Progress',
      'progress',
      FUNCTION_TIMEOUTS.progress,
      { ...base, ...stuckBatchEnvironment(queues, settings) },
      [...db(), ...readDeadLettersStatements(props.key, queues)],
    ),
    verify: fn('Verify', 'verify', FUNCTION_TIMEOUTS.verify, { ...base, ...keyring, ...legacyKeys }, [
      ...db(),
      ...keys(),
      ...legacyKeyStatements(),
    ]),
    finalize: fn('Finalize', 'finalize', FUNCTION_TIMEOUTS.finalize, { ...base, ...legacyKeys }, [
      ...db(),
      ...legacyKeyStatements(),
    ]),
    abort: fn('Abort', 'abort', FUNCTION_TIMEOUTS.abort, base, db()),
    markFailed: fn('MarkFailed', 'mark-failed', FUNCTION_TIMEOUTS.markFailed, base, db()),
  };
}

/** The worker does the crypto: more memory (= CPU), the keyring, and its per-batch time budget. */
function buildWorker(
  parts: FunctionParts,
  props: ReencryptionPipelineProps,
  settings: PipelineSettings,
): RekeyFunction {
  return parts.fn(
    'Worker',
    'worker',
    settings.workerTimeout,
    {
      ...parts.base,
      ...parts.keyring,
      ...parts.legacyKeys,
      [ENV.workerBatchBudgetMs]: String(WORKER_BUDGET.batchBudget.toMilliseconds()),
    },
    [...parts.dbStatements(), ...parts.keyStatements(), ...parts.legacyKeyStatements()],
    {
      memorySize: FUNCTION_DEFAULTS.workerMemoryMiB,
      reservedConcurrentExecutions: props.workerReservedConcurrency,
    },
  );
}

/** The daily inventory (rows per key version), invoked by the schedule. */
function buildInventory(parts: FunctionParts, settings: PipelineSettings): RekeyFunction {
  return parts.fn(
    'Inventory',
    'inventory',
    FUNCTION_TIMEOUTS.inventory,
    {
      ...parts.base,
      ...parts.trial,
      ...parts.legacyKeys,
      [ENV.retiringKeyGraceDays]: String(settings.retiringKeyGraceDays),
    },
    [...parts.dbStatements(), ...parts.legacyKeyStatements()],
  );
}

/** The task functions, then the worker, then the inventory (construct order kept: the template does not change). */
export function buildPipelineFunctions(
  scope: Construct,
  props: ReencryptionPipelineProps,
  queues: BatchQueues,
  settings: PipelineSettings,
): PipelineFunctions {
  const parts = functionParts(scope, props);
  const tasks = buildTaskFunctions(parts, props, queues, settings);
  const worker = buildWorker(parts, props, settings);
  return { tasks, worker, inventory: buildInventory(parts, settings) };
}
