import { SqsQueues } from '../core/adapters/aws-sqs';
import { progressStep } from '../core/pipeline/steps';
import { DEFAULT_STUCK_AFTER_SECONDS } from '../core/pipeline/stuck-batches';
import { HandlerConfigError } from './shared/errors';
import { rekeyHandler } from './shared/handler';
import { logger } from './shared/powertools';
import { containerRuntime } from './shared/runtime';

export interface ProgressEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly waitFraction: number;
}

let queues: { adapter: SqsQueues; endpoint: string | undefined } | undefined;

/** CheckProgress: counters of the job row and the next wait; a job whose batches sit in DEAD_LETTER_QUEUE_URL (JOB_QUEUE_URL empty) fails (BatchesStuckError). */
export const handler = rekeyHandler('CheckProgress', async (event: ProgressEvent) => {
  const runtime = await containerRuntime();
  const dlq = process.env.DEAD_LETTER_QUEUE_URL;
  const queueUrl = process.env.JOB_QUEUE_URL;
  const quietSeconds = Number(process.env.STUCK_AFTER_SECONDS ?? DEFAULT_STUCK_AFTER_SECONDS);
  if (!(quietSeconds >= 0))
    throw new HandlerConfigError(
      ['STUCK_AFTER_SECONDS'],
      `must be a number of seconds, got ${JSON.stringify(process.env.STUCK_AFTER_SECONDS)}`,
    );
  const endpoint = process.env.AWS_ENDPOINT_URL_SQS; // the local runtime points it at moto
  if (dlq && !queueUrl)
    throw new HandlerConfigError(
      ['JOB_QUEUE_URL'],
      '(with DEAD_LETTER_QUEUE_URL: a job is stuck only once the batch queue is empty)',
    );
  if (dlq && (!queues || queues.endpoint !== endpoint)) queues = { adapter: new SqsQueues(), endpoint };
  const stuck =
    dlq && queues ? { queues: queues.adapter, deadLetterQueueUrl: dlq, queueUrl: queueUrl!, quietSeconds } : undefined;
  const p = await progressStep(runtime.deps, event.jobId, event, Date.now(), stuck);
  if (p.stuckCheckError) logger.warn('stuck-batch check skipped', { jobId: event.jobId, error: p.stuckCheckError });
  return {
    rowsDone: p.rowsDone,
    rowsFailed: p.rowsFailed,
    batchesRemaining: p.batchesRemaining,
    errorRate: p.errorRate,
    waitSeconds: p.waitSeconds,
  };
});
