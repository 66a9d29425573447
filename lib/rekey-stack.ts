import { CfnOutput, RemovalPolicy, Stack, type Duration } from 'aws-cdk-lib';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import type { DataApiDatabase } from './database';
import { KEY_DEFAULTS, SCHEDULE_DEFAULTS } from './defaults';
import type { KeyringAccess } from './keyring-access';
import { KeysetRotation } from './keyset-rotation';
import { ReencryptionPipeline } from './reencryption-pipeline';
import { RekeyMonitoring } from './rekey-monitoring';
import { checkStackProps, legacyKeysSecret, type AwsKeyringKind, type RekeyStackProps } from './rekey-stack-props';
import { RotationSchedules } from './rotation-schedules';
import { TrialDatabase } from './trial-database';

export {
  type AwsKeyringKind,
  type DeployedKmsKey,
  type ExistingDatabase,
  type RekeyStackProps,
} from './rekey-stack-props';

/**
 * rekey on AWS: the stack KMS key, the database (given, or a trial cluster),
 * the re-encryption pipeline, the keyset and its rotation (hierarchical
 * keyring), the schedules, and monitoring. Every prop problem of every part
 * is reported in one error before anything is built (rekey-stack-props.ts).
 */
export class RekeyStack extends Stack {
  readonly key: IKey;
  readonly database: DataApiDatabase;
  readonly trialDatabase?: TrialDatabase;
  readonly keysetRotation?: KeysetRotation;
  readonly pipeline: ReencryptionPipeline;
  readonly schedules: RotationSchedules;
  readonly monitoring: RekeyMonitoring;

  constructor(scope: Construct, id: string, props: RekeyStackProps) {
    super(scope, id, props);
    const keyringKind = checkStackProps(this, props);
    const rotationEvery = props.rotationEvery ?? SCHEDULE_DEFAULTS.rotationEvery;
    this.key = stackKey(this, props, keyringKind, rotationEvery);

    if (props.database) {
      this.database = existingDatabase(this, props.database);
    } else {
      const options = typeof props.trialDatabase === 'object' ? props.trialDatabase : {};
      this.trialDatabase = new TrialDatabase(this, 'TrialDatabase', { key: this.key, ...options });
      this.database = this.trialDatabase.database;
    }

    let keyring: KeyringAccess = { kind: 'kms' };
    if (keyringKind === 'hierarchical') {
      this.keysetRotation = keyset(this, props, rotationEvery);
      keyring = { kind: 'hierarchical', keysetSecret: this.keysetRotation.secret };
    }

    this.pipeline = new ReencryptionPipeline(this, 'Pipeline', {
      ...props.pipeline,
      key: this.key,
      database: this.database,
      keyring,
      registry: props.registry,
      legacyKeysSecret: legacyKeysSecret(props),
      createExampleTable: this.trialDatabase !== undefined,
    });
    this.keysetRotation?.startsRewrapWith(this.pipeline.stateMachine);
    this.schedules = schedules(this, props);
    this.monitoring = monitoring(this, props);
    addStackOutputs(this, props);
  }
}

/** The root of the key hierarchy: imported, or created with rotation on and retained. */
function stackKey(stack: Stack, props: RekeyStackProps, keyringKind: AwsKeyringKind, rotationEvery: Duration): IKey {
  if (props.kmsKeyArn) return Key.fromKeyArn(stack, 'Key', props.kmsKeyArn);
  return new Key(stack, 'Key', {
    description: `rekey ${stack.stackName}: root of the key hierarchy; encrypts queues, logs, secrets, topic`,
    enableKeyRotation: true,
    // kms keyring: the key's own rotation is the automatic rotation (data keys wrapped under older material still decrypt).
    rotationPeriod: keyringKind === 'kms' ? rotationEvery : KEY_DEFAULTS.rotationPeriod,
    pendingWindow: KEY_DEFAULTS.pendingWindow,
    // Deleting the key would make every value encrypted under it unreadable: never with the stack.
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

function existingDatabase(stack: Stack, database: NonNullable<RekeyStackProps['database']>): DataApiDatabase {
  return {
    clusterArn: database.clusterArn,
    secretArn: database.secretArn,
    databaseName: database.databaseName ?? 'postgres',
    secretKey: database.secretKeyArn ? Key.fromKeyArn(stack, 'DatabaseSecretKey', database.secretKeyArn) : undefined,
  };
}

/** Hierarchical keyring: the KMS-wrapped keyset secret and its rotation hook. */
function keyset(stack: RekeyStack, props: RekeyStackProps, rotationEvery: Duration): KeysetRotation {
  const rotation = new KeysetRotation(stack, 'KeysetRotation', {
    key: stack.key,
    database: stack.database,
    rotateEvery: rotationEvery,
    schedule: props.rotationSchedule,
    window: props.rotationWindow,
  });
  // Secrets Manager test-runs the hook when the schedule is created (RotateImmediatelyOnUpdate false),
  // over the Data API: the trial cluster's writer instance (a child of the cluster construct) must be up
  // by then, not only the cluster.
  if (stack.trialDatabase) rotation.rotationSchedule.node.addDependency(stack.trialDatabase.cluster);
  return rotation;
}

function schedules(stack: RekeyStack, props: RekeyStackProps): RotationSchedules {
  return new RotationSchedules(stack, 'Schedules', {
    stateMachine: stack.pipeline.stateMachine,
    inventoryFunction: stack.pipeline.inventory.function,
    key: stack.key,
    // hierarchical: the keyset secret's own rotation schedule rotates, and its finishSecret starts the rewrap.
    // kms: the KMS key rotates itself (rotationPeriod above); a rewrap to the same key id would move no row.
    automaticRotation: false,
    inventory: props.inventory,
    tenants: props.tenants,
  });
}

function monitoring(stack: RekeyStack, props: RekeyStackProps): RekeyMonitoring {
  return new RekeyMonitoring(stack, 'Monitoring', {
    key: stack.key,
    stateMachine: stack.pipeline.stateMachine,
    queue: stack.pipeline.queue,
    deadLetterQueue: stack.pipeline.deadLetterQueue,
    scheduleDeadLetterQueue: stack.schedules.deadLetterQueue,
    // Invoked asynchronously (schedule, Secrets Manager): nobody else sees them fail.
    watchedFunctions: {
      Inventory: stack.pipeline.inventory.function,
      ...(stack.keysetRotation ? { RotationHook: stack.keysetRotation.rotation.function } : {}),
    },
    notificationEmails: props.notificationEmails,
    certificateArns: props.certificateArns,
    thresholds: props.thresholds,
  });
}

/** What operators, the CLI (cdk-outputs.json) and rekey doctor read from the deployed stack. */
function addStackOutputs(stack: RekeyStack, props: RekeyStackProps): void {
  const { pipeline, schedules, monitoring, database, keysetRotation } = stack;
  new CfnOutput(stack, 'StateMachineArn', {
    value: pipeline.stateMachine.stateMachineArn,
    description: 'Start re-encryption executions here',
  });
  new CfnOutput(stack, 'BatchQueueUrl', { value: pipeline.queue.queueUrl });
  new CfnOutput(stack, 'DeadLetterQueueUrl', { value: pipeline.deadLetterQueue.queueUrl });
  new CfnOutput(stack, 'DeadLetterQueueArn', {
    value: pipeline.deadLetterQueue.queueArn,
    description:
      'Batches that failed before a worker could claim them; after fixing the cause: rekey redrive JOB (docs/doctor.md)',
  });
  new CfnOutput(stack, 'AlarmTopicArn', { value: monitoring.topic.topicArn });
  new CfnOutput(stack, 'KmsKeyArn', {
    value: stack.key.keyArn,
    description: 'Root of the key hierarchy: cannot change once the keyset exists (docs/deploy.md)',
  });
  new CfnOutput(stack, 'KmsKeySource', {
    value: props.kmsKeyArn ? 'imported' : 'stack',
    description: 'stack: created by this stack; imported: rekey:kmsKeyArn',
  });
  new CfnOutput(stack, 'ScheduleDeadLetterQueueUrl', { value: schedules.deadLetterQueue.queueUrl });
  new CfnOutput(stack, 'InventoryFunctionName', { value: pipeline.inventory.function.functionName });
  new CfnOutput(stack, 'DatabaseClusterArn', { value: database.clusterArn });
  new CfnOutput(stack, 'DatabaseSecretArn', { value: database.secretArn });
  if (keysetRotation) new CfnOutput(stack, 'KeysetSecretArn', { value: keysetRotation.secret.secretArn });
  // rekey doctor (docs/doctor.md) reads these two as well: the Data API needs the database name, the schedule check the group.
  new CfnOutput(stack, 'DatabaseName', { value: database.databaseName });
  new CfnOutput(stack, 'ScheduleGroupName', { value: schedules.group.scheduleGroupName });
}
