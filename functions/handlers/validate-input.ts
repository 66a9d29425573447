import { validateExecutionInput, type ExecutionRequest } from '../core/pipeline/execution-request';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface ValidateInputEvent {
  readonly executionId: string;
  readonly input: unknown;
  readonly defaults?: { readonly batchSize?: number; readonly maxErrorRate?: number; readonly maxTables?: number };
}

/**
 * ValidateInput: the execution input checked against the registry and the key
 * catalog; every problem at once (InvalidInputError). As the first state it
 * also brings the database up to rekey's schema (idempotent), and with the kms
 * keyring registers the stack's KMS key in the catalog (ids only, no KMS call),
 * so a fresh deployment's first execution needs no manual setup.
 */
export const handler = rekeyHandler('ValidateInput', async (event: ValidateInputEvent): Promise<ExecutionRequest> => {
  const runtime = await pipelineRuntime({ applyMigrations: true });
  await runtime.refreshPolicy();
  return validateExecutionInput(event.input, event.defaults ?? {}, runtime.deps, runtime.policy);
});
