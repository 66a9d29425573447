import { Duration } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption, type IQueue, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { QUEUE_DEFAULTS } from './defaults';
import type { PipelineSettings } from './pipeline-settings';

/**
 * The batch queue (one message per batch) and its dead-letter queue: their
 * secure settings as pure functions (KMS with the stack key, TLS only,
 * retention), then one builder that creates both.
 */
export interface BatchQueues {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
}

/** The DLQ keeps messages as long as SQS allows, for inspection and redrive. */
export function defaultDeadLetterQueueProps(key: IKey): QueueProps {
  return {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: QUEUE_DEFAULTS.dlqRetention,
  };
}

/** Visibility = 6 × the worker timeout (Lambda's guidance for SQS sources); a message moves to the DLQ after maxReceiveCount. */
export function defaultBatchQueueProps(
  key: IKey,
  settings: Pick<PipelineSettings, 'workerTimeout' | 'maxReceiveCount'>,
  deadLetterQueue: IQueue,
): QueueProps {
  return {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
    retentionPeriod: QUEUE_DEFAULTS.retention,
    visibilityTimeout: Duration.seconds(settings.workerTimeout.toSeconds() * QUEUE_DEFAULTS.visibilityTimeoutFactor),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
  };
}

export function buildBatchQueues(scope: Construct, key: IKey, settings: PipelineSettings): BatchQueues {
  const deadLetterQueue = new Queue(scope, 'DeadLetterQueue', defaultDeadLetterQueueProps(key));
  const queue = new Queue(scope, 'BatchQueue', defaultBatchQueueProps(key, settings, deadLetterQueue));
  return { queue, deadLetterQueue };
}
