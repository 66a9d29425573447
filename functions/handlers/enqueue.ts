import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { enqueueStep } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface EnqueueEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly maxBatches: number;
}

const sqs = new SQSClient({});

/** Enqueue: up to maxBatches batches as `{jobId, batchId}` messages (ids only) on JOB_QUEUE_URL. */
export const handler = rekeyHandler('Enqueue', async (event: EnqueueEvent) => {
  const queueUrl = process.env.JOB_QUEUE_URL;
  if (!queueUrl) throw new Error('JOB_QUEUE_URL is not set');
  const runtime = await containerRuntime();
  return enqueueStep(runtime.deps, event.jobId, event.maxBatches, async (messages) => {
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: JSON.stringify(m) })),
      }),
    );
    if (result.Failed && result.Failed.length > 0) {
      // Retryable as a whole: batches already sent are idempotent.
      throw new Error(`SQS refused ${result.Failed.length} of ${messages.length} messages (${result.Failed[0]!.Code})`);
    }
  });
});
