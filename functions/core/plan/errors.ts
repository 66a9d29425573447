import { RekeyError } from '../errors';

/** Base of the planning module's errors. */
export abstract class PlanError extends RekeyError {}

/** A price table, quota or setting given to the planner is invalid; lists every problem. Not retryable. */
export class PlanInputError extends PlanError {
  readonly code = 'PLAN_INPUT_INVALID';
  constructor(
    readonly problems: readonly string[],
    readonly source: string,
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
  }
}
