import { verifyStep } from '../core/pipeline/steps';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface VerifyEvent {
  readonly executionId: string;
  readonly jobId: string;
}

/** Verify: values still under other keys; the job becomes completed_with_errors when any remain. */
export const handler = rekeyHandler('Verify', async (event: VerifyEvent) => {
  const runtime = await pipelineRuntime();
  return verifyStep(runtime.deps, event.jobId);
});
