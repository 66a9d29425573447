import { RUNTIME_ENV } from '../core/environment-names';
import type { ExecutionRequest } from '../core/pipeline/execution-request';
import { planStep } from '../core/pipeline/steps';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';

export interface PlanEvent {
  readonly executionId: string;
  readonly request: ExecutionRequest;
}

/** Plan: the execution's job (created once per execution id), counted and cut into keyset batches. */
export const handler = rekeyHandler('Plan', async (event: PlanEvent) => {
  const runtime = await pipelineRuntime();
  await runtime.refreshPolicy();
  return planStep(runtime.deps, event.executionId, event.request, (tenant) => runtime.policy.encryptionKeyId(tenant), {
    region: process.env[RUNTIME_ENV.region],
  });
});
