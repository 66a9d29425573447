import { enqueueStep } from '../core/pipeline/steps';
import { batchQueue, pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface EnqueueEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly maxBatches: number;
}

/**
 * Enqueue: up to maxBatches batches as `{jobId, batchId}` messages (ids only) on JOB_QUEUE_URL.
 * Messages the queue refuses are a QueueSendError, retryable as a whole: the batches already sent are idempotent.
 */
export const handler = rekeyHandler('Enqueue', async (event: EnqueueEvent) => {
  const { queues, queueUrl } = batchQueue();
  const runtime = await pipelineRuntime();
  return enqueueStep(runtime.deps, event.jobId, event.maxBatches, (messages) =>
    queues.send(
      queueUrl,
      messages.map((m) => JSON.stringify(m)),
    ),
  );
});
