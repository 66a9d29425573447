import { progressStep } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface ProgressEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly waitFraction: number;
}

/** CheckProgress: counters of the job row and the next wait. */
export const handler = rekeyHandler('CheckProgress', async (event: ProgressEvent) => {
  const runtime = await containerRuntime();
  const p = await progressStep(runtime.deps, event.jobId, event);
  return { rowsDone: p.rowsDone, rowsFailed: p.rowsFailed, batchesRemaining: p.batchesRemaining, errorRate: p.errorRate, waitSeconds: p.waitSeconds };
});
