import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { RekeyError } from '../../core/errors';
import { flushMetrics } from './metrics-flush';
import { logger, metrics, tracer } from './powertools';

/**
 * Wraps a step in middy with Powertools: Lambda context in every log line,
 * metrics flushed after each invocation that recorded any, X-Ray subsegment. Errors are logged
 * by name, code and message (rekey's messages never hold values or keys) and
 * rethrown: Step Functions' Retry/Catch and SQS redelivery decide what next.
 */
export function rekeyHandler<E, R>(name: string, step: (event: E, context: Context) => Promise<R>) {
  const base = async (event: E, context: Context): Promise<R> => {
    try {
      return await step(event, context);
    } catch (err) {
      logger.error(`${name} failed`, {
        error: err instanceof Error ? err.name : 'Error',
        code: err instanceof RekeyError ? err.code : undefined,
        retryable: err instanceof RekeyError ? err.retryable : undefined,
        errorMessage: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
  };
  return middy(base)
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(flushMetrics(metrics))
    .use(captureLambdaHandler(tracer));
}
