import { RekeyError } from '../core/errors';

/** Base of the local runtime's own errors (an execution that fails in a state is a result, not one of these). */
export abstract class LocalRuntimeError extends RekeyError {}

/** The definition and the local task implementations do not match: a Task state has no handler, or a handler no state. */
export class TaskMappingError extends LocalRuntimeError {
  readonly code = 'LOCAL_TASK_MAPPING';
  constructor(
    readonly missing: readonly string[],
    readonly unknown: readonly string[],
  ) {
    super(
      [
        missing.length ? `no local implementation for Task state(s): ${missing.join(', ')}` : '',
        unknown.length
          ? `local implementations given for states the definition does not have: ${unknown.join(', ')}`
          : '',
      ]
        .filter(Boolean)
        .join('; '),
    );
  }
}

/** The local pipeline's options are unusable (no database URL, no SQS endpoint...). */
export class LocalPipelineOptionsError extends LocalRuntimeError {
  readonly code = 'LOCAL_PIPELINE_OPTIONS';
  constructor(readonly problems: readonly string[]) {
    super(`local pipeline: ${problems.join('; ')}`);
  }
}
