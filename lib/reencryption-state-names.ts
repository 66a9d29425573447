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
