import {
  Choice,
  Condition,
  Errors,
  Fail,
  JitterType,
  JsonPath,
  Pass,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import { NON_RETRYABLE_ERROR_NAMES } from '../functions/core/non-retryable-errors';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { STATE_MACHINE_DEFAULTS } from './defaults';

/**
 * The re-encryption state machine, JSONPath only (no JSONata, no Assign: the
 * local runner, aws-local-stepfunctions, ignores them). Every state has a
 * fixed name: the local runtime overrides tasks by state name, and operators
 * read these names in the console. docs/state-machine.md has the contract of
 * each task (payload in, fields out) and the history/payload arithmetic.
 */
export const STATE_NAMES = {
  readInput: 'ReadInput',
  validateInput: 'ValidateInput',
  plan: 'Plan',
  isDryRun: 'IsDryRun',
  dryRunReport: 'DryRunReport',
  enqueue: 'Enqueue',
  allBatchesEnqueued: 'AllBatchesEnqueued',
  checkProgress: 'CheckProgress',
  progressDecision: 'ProgressDecision',
  waitForProgress: 'WaitForProgress',
  abort: 'Abort',
  jobAborted: 'JobAborted',
  verify: 'Verify',
  canRetireOldKey: 'CanRetireOldKey',
  finalize: 'Finalize',
  completed: 'Completed',
  completedWithErrors: 'CompletedWithErrors',
  markFailed: 'MarkFailed',
  jobFailed: 'JobFailed',
} as const;

/** The Task states, by state name → the handler entry file (functions/handlers/<file>.ts) behind it. */
export const TASK_HANDLERS = {
  [STATE_NAMES.validateInput]: 'validate-input',
  [STATE_NAMES.plan]: 'plan',
  [STATE_NAMES.enqueue]: 'enqueue',
  [STATE_NAMES.checkProgress]: 'progress',
  [STATE_NAMES.abort]: 'abort',
  [STATE_NAMES.verify]: 'verify',
  [STATE_NAMES.finalize]: 'finalize',
  [STATE_NAMES.markFailed]: 'mark-failed',
} as const;

/** Fail-state error names an execution can end with (besides a task's own error, passed through by JobFailed). */
export const EXECUTION_ERRORS = {
  jobAborted: 'RekeyJobAborted',
  completedWithErrors: 'RekeyCompletedWithErrors',
} as const;

export interface ReencryptionTaskFunctions {
  readonly validateInput: IFunction;
  readonly plan: IFunction;
  readonly enqueue: IFunction;
  readonly progress: IFunction;
  readonly verify: IFunction;
  readonly finalize: IFunction;
  readonly abort: IFunction;
  readonly markFailed: IFunction;
}

export interface ReencryptionDefinitionOptions {
  /** Defaults ValidateInput applies to fields the execution input leaves out. */
  readonly batchSize: number;
  readonly maxErrorRate: number;
  readonly maxTables: number;
  /** Batches per Enqueue invocation. */
  readonly enqueueBatchesPerInvocation: number;
  /** Progress loop pacing, handed to CheckProgress which returns the next wait. */
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly waitFraction: number;
}

const EXECUTION_ID = JsonPath.stringAt('$$.Execution.Id');
const JOB_ID = JsonPath.stringAt('$.job.jobId');

/**
 * Builds the definition under `scope` and returns its start state.
 *
 *   ReadInput → ValidateInput → Plan → IsDryRun ─yes→ DryRunReport (Succeed)
 *                              └no→ Enqueue ⟲ AllBatchesEnqueued → CheckProgress → ProgressDecision
 *   ProgressDecision: errorRate > maxErrorRate → Abort → JobAborted (Fail)
 *                     batchesRemaining > 0     → WaitForProgress → CheckProgress
 *                     otherwise                → Verify → CanRetireOldKey
 *   CanRetireOldKey:  rowsOnOldKeys = 0 → Finalize → Completed (Succeed)
 *                     otherwise         → CompletedWithErrors (Fail)
 *   any task, after its retries → MarkFailed → JobFailed (Fail, the task's error)
 *
 * ReadInput wraps the execution input, whatever JSON it is, as `{input}`: the
 * state is then always an object, so ValidateInput's Catch can add `$.error`
 * to it and a malformed input (a string, an array, the console's sample)
 * ends in MarkFailed with ValidateInput's message, not in States.Runtime.
 *
 * CheckProgress runs once before the first wait, so a job with nothing to do
 * goes straight to Verify and the first wait length comes from the job itself.
 */
export function buildReencryptionDefinition(
  scope: Construct,
  fns: ReencryptionTaskFunctions,
  options: ReencryptionDefinitionOptions,
): IChainable {
  const states = new Construct(scope, 'States');

  const jobFailed = new Fail(states, STATE_NAMES.jobFailed, {
    comment: 'A task failed after its retries; MarkFailed recorded it on the job.',
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const markFailed = task(states, STATE_NAMES.markFailed, fns.markFailed, {
    payload: { executionId: EXECUTION_ID, error: JsonPath.stringAt('$.error.Error') },
    resultPath: JsonPath.DISCARD,
  });
  // MarkFailed's own failure must not hide the original error: it goes straight to JobFailed.
  markFailed.addCatch(jobFailed, { errors: [Errors.ALL], resultPath: '$.markFailedError' }).next(jobFailed);
  const guarded = (t: LambdaInvoke): LambdaInvoke => {
    t.addCatch(markFailed, { errors: [Errors.ALL], resultPath: '$.error' });
    return t;
  };

  const readInput = new Pass(states, STATE_NAMES.readInput, {
    comment:
      'Wraps the execution input (any JSON value) as {input}, so that every later state, and the Catch of ValidateInput, works on an object.',
    parameters: { input: JsonPath.entirePayload },
  });

  const validateInput = guarded(
    task(states, STATE_NAMES.validateInput, fns.validateInput, {
      payload: {
        executionId: EXECUTION_ID,
        input: JsonPath.objectAt('$.input'),
        defaults: { batchSize: options.batchSize, maxErrorRate: options.maxErrorRate, maxTables: options.maxTables },
      },
      // No ResultPath: the result replaces the state, so the raw input is dropped and only the
      // validated request goes on. ("ResultPath": "$" means the same in AWS, but
      // aws-local-stepfunctions 3 stores it under a key named "$".)
      resultSelector: {
        request: {
          mode: JsonPath.stringAt('$.Payload.mode'),
          tables: JsonPath.listAt('$.Payload.tables'),
          batchSize: JsonPath.numberAt('$.Payload.batchSize'),
          dryRun: JsonPath.stringAt('$.Payload.dryRun'),
          maxErrorRate: JsonPath.numberAt('$.Payload.maxErrorRate'),
          targetKeyId: JsonPath.stringAt('$.Payload.targetKeyId'),
          tenant: JsonPath.stringAt('$.Payload.tenant'),
        },
      },
    }),
  );

  const plan = guarded(
    task(states, STATE_NAMES.plan, fns.plan, {
      payload: { executionId: EXECUTION_ID, request: JsonPath.objectAt('$.request') },
      resultSelector: {
        jobId: JsonPath.stringAt('$.Payload.jobId'),
        rowsTotal: JsonPath.numberAt('$.Payload.rowsTotal'),
        rowsToChange: JsonPath.numberAt('$.Payload.rowsToChange'),
        batchesTotal: JsonPath.numberAt('$.Payload.batchesTotal'),
        // The rotation plan of a dry run (counts, calls, duration, cost — no values); null for a real run.
        plan: JsonPath.objectAt('$.Payload.plan'),
      },
      resultPath: '$.job',
    }),
  );

  const dryRunReport = new Succeed(states, STATE_NAMES.dryRunReport, {
    comment: "Dry run: the plan's counts, nothing changed.",
    outputPath: '$.job',
  });

  const enqueue = guarded(
    task(states, STATE_NAMES.enqueue, fns.enqueue, {
      payload: { executionId: EXECUTION_ID, jobId: JOB_ID, maxBatches: options.enqueueBatchesPerInvocation },
      resultSelector: {
        batchesEnqueued: JsonPath.numberAt('$.Payload.batchesEnqueued'),
        batchesLeft: JsonPath.numberAt('$.Payload.batchesLeft'),
      },
      resultPath: '$.enqueue',
    }),
  );

  const checkProgress = guarded(
    task(states, STATE_NAMES.checkProgress, fns.progress, {
      payload: {
        executionId: EXECUTION_ID,
        jobId: JOB_ID,
        minWaitSeconds: options.minWaitSeconds,
        maxWaitSeconds: options.maxWaitSeconds,
        waitFraction: options.waitFraction,
      },
      resultSelector: {
        rowsDone: JsonPath.numberAt('$.Payload.rowsDone'),
        rowsFailed: JsonPath.numberAt('$.Payload.rowsFailed'),
        batchesRemaining: JsonPath.numberAt('$.Payload.batchesRemaining'),
        errorRate: JsonPath.numberAt('$.Payload.errorRate'),
        waitSeconds: JsonPath.numberAt('$.Payload.waitSeconds'),
      },
      resultPath: '$.progress',
    }),
  );

  const waitForProgress = new Wait(states, STATE_NAMES.waitForProgress, {
    time: WaitTime.secondsPath('$.progress.waitSeconds'),
  });

  const abort = guarded(
    task(states, STATE_NAMES.abort, fns.abort, {
      payload: {
        executionId: EXECUTION_ID,
        jobId: JOB_ID,
        errorRate: JsonPath.numberAt('$.progress.errorRate'),
        maxErrorRate: JsonPath.numberAt('$.request.maxErrorRate'),
      },
      resultPath: JsonPath.DISCARD,
    }),
  );
  const jobAborted = new Fail(states, STATE_NAMES.jobAborted, {
    error: EXECUTION_ERRORS.jobAborted,
    cause: 'Failed rows passed maxErrorRate: the job was aborted and no key was retired. See rekey_row_errors.',
  });

  const verify = guarded(
    task(states, STATE_NAMES.verify, fns.verify, {
      payload: { executionId: EXECUTION_ID, jobId: JOB_ID },
      resultSelector: {
        rowsOnOldKeys: JsonPath.numberAt('$.Payload.rowsOnOldKeys'),
        rowsFailed: JsonPath.numberAt('$.Payload.rowsFailed'),
      },
      resultPath: '$.verify',
    }),
  );

  const finalize = guarded(
    task(states, STATE_NAMES.finalize, fns.finalize, {
      payload: { executionId: EXECUTION_ID, jobId: JOB_ID },
      resultSelector: { retiredKeyIds: JsonPath.listAt('$.Payload.retiredKeyIds') },
      resultPath: '$.finalize',
    }),
  );
  const completed = new Succeed(states, STATE_NAMES.completed, {
    comment: 'Every row on the target key; the old key is retired.',
  });
  // A Fail, not a Succeed: the job did its work but rows remain on the old key, which stays usable.
  // Failing the execution surfaces it in the console, to the caller and in the ExecutionsFailed alarm.
  const completedWithErrors = new Fail(states, STATE_NAMES.completedWithErrors, {
    error: EXECUTION_ERRORS.completedWithErrors,
    cause:
      'Rows remain on the old key (failed or changed meanwhile): it was not retired and still decrypts. See rekey_row_errors, fix, and rerun.',
  });

  const canRetireOldKey = new Choice(states, STATE_NAMES.canRetireOldKey)
    .when(Condition.numberEquals('$.verify.rowsOnOldKeys', 0), finalize.next(completed))
    .otherwise(completedWithErrors);

  const progressDecision = new Choice(states, STATE_NAMES.progressDecision)
    .when(Condition.numberGreaterThanJsonPath('$.progress.errorRate', '$.request.maxErrorRate'), abort.next(jobAborted))
    .when(Condition.numberGreaterThan('$.progress.batchesRemaining', 0), waitForProgress.next(checkProgress))
    .otherwise(verify.next(canRetireOldKey));

  const allBatchesEnqueued = new Choice(states, STATE_NAMES.allBatchesEnqueued)
    .when(Condition.numberGreaterThan('$.enqueue.batchesLeft', 0), enqueue)
    .otherwise(checkProgress.next(progressDecision));

  const isDryRun = new Choice(states, STATE_NAMES.isDryRun)
    .when(Condition.booleanEquals('$.request.dryRun', true), dryRunReport)
    .otherwise(enqueue.next(allBatchesEnqueued));

  return readInput.next(validateInput).next(plan).next(isDryRun);
}

interface TaskOptions {
  readonly payload: Record<string, unknown>;
  readonly resultSelector?: Record<string, unknown>;
  /** @default - the result replaces the state */
  readonly resultPath?: string;
}

/** A Lambda task with the retry policy every rekey task shares. */
function task(scope: Construct, name: string, fn: IFunction, options: TaskOptions): LambdaInvoke {
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
