import { validateExecutionInput, type ExecutionRequest } from '../core/pipeline/steps';
import { rekeyHandler } from './shared/handler';
import { containerRuntime } from './shared/runtime';

export interface ValidateInputEvent {
  readonly executionId: string;
  readonly input: unknown;
  readonly defaults?: { readonly batchSize?: number; readonly maxErrorRate?: number; readonly maxTables?: number };
}

/** ValidateInput: the execution input checked against the registry and the key catalog; every problem at once (InvalidInputError). */
export const handler = rekeyHandler('ValidateInput', async (event: ValidateInputEvent): Promise<ExecutionRequest> => {
  const runtime = await containerRuntime();
  await runtime.refreshPolicy();
  return validateExecutionInput(event.input, event.defaults ?? {}, runtime.deps, runtime.policy);
});
