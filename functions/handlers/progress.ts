import { progressStep } from '../core/pipeline/steps';
import { pipelineRuntime, stuckBatchCheck } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';
import { logger } from './shared/powertools';

export interface ProgressEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly waitFraction: number;
}

/** CheckProgress: counters of the job row and the next wait; a job whose batches sit in DEAD_LETTER_QUEUE_URL (JOB_QUEUE_URL empty) fails (BatchesStuckError). */
export const handler = rekeyHandler('CheckProgress', async (event: ProgressEvent) => {
  const runtime = await pipelineRuntime();
  const p = await progressStep(runtime.deps, event.jobId, event, Date.now(), stuckBatchCheck());
  if (p.stuckCheckError) logger.warn('stuck-batch check skipped', { jobId: event.jobId, error: p.stuckCheckError });
  const { rowsDone, rowsFailed, batchesRemaining, errorRate, waitSeconds } = p;
  return { rowsDone, rowsFailed, batchesRemaining, errorRate, waitSeconds };
});
