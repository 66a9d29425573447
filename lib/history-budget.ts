/**
 * How many history events a re-encryption execution can use, worst case, and
 * the budget it must stay inside (Step Functions Standard: 25,000 events per
 * execution). docs/state-machine.md has the same arithmetic by hand; the
 * pipeline refuses settings whose worst case leaves too little for retries.
 */

import { progressPolls } from '../functions/core/plan/pipeline-shape';

export const HISTORY_EVENT_LIMIT = 25_000;
/** Worst case without retries may use at most this much, leaving ≥ 5,000 events for retries. */
export const HISTORY_EVENT_BUDGET = 20_000;
/** The job size the budget is checked for. */
export const REFERENCE_ROWS = 100_000_000;

/** Events of a successful run outside the loops: execution started/succeeded, ReadInput (Pass), ValidateInput, Plan, IsDryRun, Verify, CanRetireOldKey, Finalize, Completed. */
export const FIXED_EVENTS = 2 + 2 + 5 + 5 + 2 + 5 + 2 + 5 + 2;
/** Enqueue (Task, 5) + AllBatchesEnqueued (Choice, 2). */
export const EVENTS_PER_ENQUEUE = 7;
/** WaitForProgress (2) + CheckProgress (5) + ProgressDecision (2); the first check has no wait (7). */
export const EVENTS_PER_POLL = 9;

export interface ProgressPacing {
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly waitFraction: number;
}

/** Progress polls (waits) an execution makes if it runs for `seconds` (one definition, shared with the planner). */
export { progressPolls };

/** Worst-case events, without retries, of an execution over `rows` rows that runs until its timeout. */
export function worstCaseHistoryEvents(
  options: ProgressPacing & { timeoutSeconds: number; rows: number; batchSize: number; batchesPerEnqueue: number },
): number {
  const enqueues = Math.max(1, Math.ceil(Math.ceil(options.rows / options.batchSize) / options.batchesPerEnqueue));
  return (
    FIXED_EVENTS + enqueues * EVENTS_PER_ENQUEUE + 7 + progressPolls(options.timeoutSeconds, options) * EVENTS_PER_POLL
  );
}
