import type { IKey } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource, type SqsEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { buildBatchQueues } from './batch-queues';
import type { DataApiDatabase } from './database';
import { PropsProblems } from './errors';
import { allowCloudWatchLogs } from './key-policies';
import type { KeyringAccess } from './keyring-access';
import { checkLegacyKeysProps, type LegacyKeysSecret } from './legacy-keys-access';
import { buildPipelineFunctions } from './pipeline-functions';
import { checkPipelineProps, type PipelineSettings, type ReencryptionPipelineTuning } from './pipeline-settings';
import { buildReencryptionStateMachine, stateMachineLogGroupProps } from './pipeline-state-machine';
import type { ReencryptionTaskFunctions } from './reencryption-definition';
import type { RekeyFunction } from './rekey-function';
import { checkRegistry, type EncryptedColumnRegistry } from './registry';

export { checkPipelineProps, type PipelineSettings, type ReencryptionPipelineTuning } from './pipeline-settings';

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
 *
 * The constructor reads as its list of parts: validated settings, the batch
 * queues (batch-queues.ts), the functions (pipeline-functions.ts), the
 * worker's event source, and the state machine (pipeline-state-machine.ts).
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
    const settings = validatePipelineProps(this, props);
    allowCloudWatchLogs(props.key);

    const queues = buildBatchQueues(this, props.key, settings);
    this.deadLetterQueue = queues.deadLetterQueue;
    this.queue = queues.queue;

    const { tasks, worker, inventory } = buildPipelineFunctions(this, props, queues, settings);
    this.tasks = tasks;
    this.worker = worker.function;
    this.workerEventSource = new SqsEventSource(this.queue, workerEventSourceProps(settings));
    this.worker.addEventSource(this.workerEventSource);
    this.inventory = inventory;
    this.functions = [...Object.values(tasks), worker, inventory];

    this.stateMachineLogGroup = new LogGroup(this, 'StateMachineLogs', stateMachineLogGroupProps(this, props.key));
    this.stateMachine = buildReencryptionStateMachine(this, tasks, settings, this.stateMachineLogGroup);
  }
}

/** Every problem of the props at once (tuning, registry, Fernet keys secret), or the settings with defaults applied. */
function validatePipelineProps(pipeline: Construct, props: ReencryptionPipelineProps): PipelineSettings {
  const problems = PropsProblems.for(`ReencryptionPipeline ${pipeline.node.path}`);
  const settings = checkPipelineProps(problems, props);
  checkRegistry(problems, 'registry', props.registry);
  checkLegacyKeysProps(problems, props.registry, props.legacyKeysSecret);
  problems.throwIfAny();
  return settings;
}

/** The worker's SQS event source: a few batches per invocation, bounded concurrency, partial batch failures. */
export function workerEventSourceProps(settings: PipelineSettings): SqsEventSourceProps {
  return {
    batchSize: settings.workerBatchSize,
    maxConcurrency: settings.maxConcurrency,
    // The worker reports the batch messages it could not finish; the others are deleted (Powertools batch).
    reportBatchItemFailures: true,
  };
}
