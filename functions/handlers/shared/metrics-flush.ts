import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';

/**
 * Powertools' logMetrics, except that an invocation that recorded no metric
 * publishes nothing and says nothing: most steps (ValidateInput, Plan,
 * CheckProgress...) emit none, and logMetrics would write "No application
 * metrics to publish" into every one of their log streams. The cold-start
 * metric is still captured (it is published on its own, at once).
 */
export function flushMetrics(metrics: Metrics): MiddlewareObj<unknown, unknown, Error, Context> {
  const flush = (): void => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return {
    before: (request) => {
      metrics.captureColdStartMetric(request.context.functionName);
    },
    after: flush,
    onError: flush,
  };
}
