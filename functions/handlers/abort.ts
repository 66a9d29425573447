import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { MetricNames } from '../core/metrics-names';
import { abortStep } from '../core/pipeline/steps';
import { pipelineRuntime } from '../runtime/pipeline-container';
import { rekeyHandler } from './shared/handler';
import { metrics } from './shared/powertools';

export interface AbortEvent {
  readonly executionId: string;
  readonly jobId: string;
  readonly errorRate: number;
  readonly maxErrorRate: number;
}

/** Abort: the job becomes `aborted`; workers skip its remaining messages. */
export const handler = rekeyHandler('Abort', async (event: AbortEvent) => {
  const runtime = await pipelineRuntime();
  await abortStep(runtime.deps, event.jobId, event.errorRate, event.maxErrorRate);
  metrics.addMetric(MetricNames.JobAborted, MetricUnit.Count, 1);
  return { aborted: true };
});
