import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Errors, Fail, JitterType, JsonPath, TaskInput } from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { NON_RETRYABLE_ERROR_NAMES } from '../functions/core/non-retryable-errors';
import { STATE_MACHINE_DEFAULTS } from './defaults';
import { STATE_NAMES } from './reencryption-state-names';

/**
 * The Lambda task every task state of the re-encryption state machine is
 * built from (reencryption-definition.ts): one payload, an optional result
 * selector and path, and the retry policy all rekey tasks share; and the
 * failure path every task takes after its retries (MarkFailed → JobFailed).
 */
export interface TaskOptions {
  readonly payload: Record<string, unknown>;
  readonly resultSelector?: Record<string, unknown>;
  /** @default - the result replaces the state */
  readonly resultPath?: string;
}

/** A Lambda task with the retry policy every rekey task shares. */
export function task(scope: Construct, name: string, fn: IFunction, options: TaskOptions): LambdaInvoke {
  const t = new LambdaInvoke(scope, name, {
    lambdaFunction: fn,
    payload: TaskInput.fromObject(options.payload),
    resultSelector: options.resultSelector,
    resultPath: options.resultPath,
    retryOnServiceExceptions: false,
  });
  const { serviceRetry, taskRetry } = STATE_MACHINE_DEFAULTS;
  // First match wins: an error no retry can fix (bad input, configuration, schema, keys) goes
  // straight to the Catch instead of being retried for a minute under States.TaskFailed.
  t.addRetry({ errors: [...NON_RETRYABLE_ERROR_NAMES], maxAttempts: 0 });
  t.addRetry({
    errors: [
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
    ],
    ...serviceRetry,
    jitterStrategy: JitterType.FULL,
  });
  // Handlers are idempotent (keyed by execution and job), so a retried task that had half-run is harmless.
  t.addRetry({ errors: [Errors.TASKS_FAILED, Errors.TIMEOUT], ...taskRetry, jitterStrategy: JitterType.FULL });
  return t;
}

/** Every task's payload carries the execution id (tasks are idempotent on it). */
export const EXECUTION_ID = JsonPath.stringAt('$$.Execution.Id');

/** Wraps a task so that, after its retries, it goes to MarkFailed with the error in `$.error`. */
export type Guard = (t: LambdaInvoke) => LambdaInvoke;

/** MarkFailed → JobFailed, and the guard every other task is wrapped in. */
export function failureHandling(states: Construct, markFailedFn: IFunction): Guard {
  const jobFailed = new Fail(states, STATE_NAMES.jobFailed, {
    comment: 'A task failed after its retries; MarkFailed recorded it on the job.',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const markFailed = task(states, STATE_NAMES.markFailed, markFailedFn, {
    payload: { executionId: EXECUTION_ID, error: JsonPath.stringAt('$.error.Error') },
    resultPath: JsonPath.DISCARD,
  });
  // MarkFailed's own failure must not hide the original error: it goes straight to JobFailed.
  markFailed.addCatch(jobFailed, { errors: [Errors.ALL], resultPath: '$.markFailedError' }).next(jobFailed);
  return (t) => {
    t.addCatch(markFailed, { errors: [Errors.ALL], resultPath: '$.error' });
    return t;
  };
}
