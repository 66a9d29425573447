import { verifyStep } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface VerifyEvent {
  readonly executionId: string;
  readonly jobId: string;
}

/** Verify: values still under other keys; the job becomes completed_with_errors when any remain. */
export const handler = rekeyHandler('Verify', async (event: VerifyEvent) => {
  const runtime = await containerRuntime();
  return verifyStep(runtime.deps, event.jobId);
});
