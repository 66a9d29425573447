import { finalizeStep } from '../core/pipeline/steps';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface FinalizeEvent {
  readonly executionId: string;
  readonly jobId: string;
}

/** Finalize: retire the old key(s) verify found empty; the job becomes completed. */
export const handler = rekeyHandler('Finalize', async (event: FinalizeEvent) => {
  const runtime = await pipelineRuntime();
  const result = await finalizeStep(runtime.deps, event.jobId);
  await runtime.refreshPolicy();
  return result;
});
