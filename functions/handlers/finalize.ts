import { finalizeStep } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface FinalizeEvent {
  readonly executionId: string;
  readonly jobId: string;
}

/** Finalize: retire the old key(s) verify found empty; the job becomes completed. */
export const handler = rekeyHandler('Finalize', async (event: FinalizeEvent) => {
  const runtime = await containerRuntime();
  const result = await finalizeStep(runtime.deps, event.jobId);
  await runtime.refreshPolicy();
  return result;
});
