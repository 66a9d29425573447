import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  JsonPath,
  Pass,
  Succeed,
  Wait,
  WaitTime,
  type IChainable,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EXECUTION_ID, failureHandling, task, type Guard } from './reencryption-task';
import { EXECUTION_ERRORS, STATE_NAMES } from './reencryption-state-names';

export { EXECUTION_ERRORS, STATE_NAMES, TASK_HANDLERS } from './reencryption-state-names';

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
 *
 * Built in phases (failure handling, intake, batch phase, closing), then
 * joined by the Choice states; every state is created in the order the
 * template has always had, so the definition is unchanged by the split.
 */
export function buildReencryptionDefinition(
  scope: Construct,
  fns: ReencryptionTaskFunctions,
  options: ReencryptionDefinitionOptions,
): IChainable {
  const states = new Construct(scope, 'States');
  const guarded = failureHandling(states, fns.markFailed);
  const intake = intakeStates(states, fns, options, guarded);
  const batchPhase = batchPhaseStates(states, fns, options, guarded);
  const closing = closingStates(states, fns, guarded);
  return connectStates(states, intake, batchPhase, closing);
}

interface IntakeStates {
  readonly readInput: Pass;
  readonly validateInput: LambdaInvoke;
  readonly plan: LambdaInvoke;
  readonly dryRunReport: Succeed;
}

/** ReadInput → ValidateInput → Plan, and the dry run's end. */
function intakeStates(
  states: Construct,
  fns: ReencryptionTaskFunctions,
  options: ReencryptionDefinitionOptions,
  guarded: Guard,
): IntakeStates {
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

  return { readInput, validateInput, plan, dryRunReport };
}

interface BatchPhaseStates {
  readonly enqueue: LambdaInvoke;
  readonly checkProgress: LambdaInvoke;
  readonly waitForProgress: Wait;
  readonly abort: LambdaInvoke;
  readonly jobAborted: Fail;
}

/** Enqueue, the progress loop (CheckProgress, WaitForProgress) and its way out on too many errors (Abort → JobAborted). */
function batchPhaseStates(
  states: Construct,
  fns: ReencryptionTaskFunctions,
  options: ReencryptionDefinitionOptions,
  guarded: Guard,
): BatchPhaseStates {
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

  return { enqueue, checkProgress, waitForProgress, abort, jobAborted };
}

interface ClosingStates {
  readonly verify: LambdaInvoke;
  readonly finalize: LambdaInvoke;
  readonly completed: Succeed;
  readonly completedWithErrors: Fail;
}

/** Verify, then Finalize → Completed, or CompletedWithErrors. */
function closingStates(states: Construct, fns: ReencryptionTaskFunctions, guarded: Guard): ClosingStates {
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

  return { verify, finalize, completed, completedWithErrors };
}

/** The Choice states that join the phases; returns the start state. */
function connectStates(
  states: Construct,
  { readInput, validateInput, plan, dryRunReport }: IntakeStates,
  { enqueue, checkProgress, waitForProgress, abort, jobAborted }: BatchPhaseStates,
  { verify, finalize, completed, completedWithErrors }: ClosingStates,
): IChainable {
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
