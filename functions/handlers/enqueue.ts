import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { enqueueStep } from '../core/pipeline/steps';
import { HandlerConfigError, QueueSendError } from './shared/errors';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface EnqueueEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly maxBatches: number;
}

// One client per container, built on first use; rebuilt if AWS_ENDPOINT_URL_SQS changes (the local runtime points it at moto).
let sqs: { client: SQSClient; endpoint: string | undefined } | undefined;

function queueClient(): SQSClient {
  const endpoint = process.env.AWS_ENDPOINT_URL_SQS;
  if (!sqs || sqs.endpoint !== endpoint) sqs = { client: new SQSClient({}), endpoint };
  return sqs.client;
}

/** Enqueue: up to maxBatches batches as `{jobId, batchId}` messages (ids only) on JOB_QUEUE_URL. */
export const handler = rekeyHandler('Enqueue', async (event: EnqueueEvent) => {
  const queueUrl = process.env.JOB_QUEUE_URL;
  if (!queueUrl) throw new HandlerConfigError(['JOB_QUEUE_URL']);
  const runtime = await containerRuntime();
  const client = queueClient();
  return enqueueStep(runtime.deps, event.jobId, event.maxBatches, async (messages) => {
    const result = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify(m) })),
      }),
    );
    // Retryable as a whole: the batches already sent are idempotent.
    if (result.Failed && result.Failed.length > 0)
      throw new QueueSendError(result.Failed.length, messages.length, result.Failed[0]!.Code);
  });
});
