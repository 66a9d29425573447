import { markFailedStep } from '../core/pipeline/steps';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface MarkFailedEvent {
  readonly executionId: string;
  /** The failed task's error name only. */
  readonly error: string;
}

/** MarkFailed: the execution's job (if it has one yet) becomes `failed`. */
export const handler = rekeyHandler('MarkFailed', async (event: MarkFailedEvent) => {
  const runtime = await pipelineRuntime();
  return markFailedStep(runtime.deps, event.executionId, String(event.error ?? 'Error'));
});
