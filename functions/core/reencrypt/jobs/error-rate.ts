import type { JobCounters } from '../store/job-store';

/**
 * When failed rows pass the job's maximum error rate (default 1 %, the
 * runbooks' rollback threshold), the job aborts and its remaining batches are
 * not run.
 *
 * The rate is failed / attempted rows (done + failed + conflicted; rows found
 * already on the target key do not count). While the job runs, it is judged
 * only once `minRows` rows were attempted (or the whole job, if smaller), so
 * one bad row in the first small batch does not abort a million-row job; at
 * the end of the run it is judged on all rows.
 */
export const DEFAULT_MAX_ERROR_RATE = 0.01;
export const DEFAULT_ABORT_MIN_ROWS = 1000;

export function attemptedRows(c: Pick<JobCounters, 'rowsDone' | 'rowsFailed' | 'rowsConflicted'>): number {
  return c.rowsDone + c.rowsFailed + c.rowsConflicted;
}

/** failed ÷ attempted rows; 0 before any row was attempted. */
export function errorRate(c: Pick<JobCounters, 'rowsDone' | 'rowsFailed' | 'rowsConflicted'>): number {
  const attempted = attemptedRows(c);
  return attempted === 0 ? 0 : c.rowsFailed / attempted;
}

export function errorRateExceeded(
  c: Pick<JobCounters, 'rowsDone' | 'rowsFailed' | 'rowsConflicted' | 'rowsTotal'>,
  maxErrorRate: number,
  minRows: number,
  final = false,
): boolean {
  const attempted = attemptedRows(c);
  if (attempted === 0 || c.rowsFailed === 0) return false;
  if (!final && attempted < Math.min(minRows, Math.max(c.rowsTotal, 1))) return false;
  return c.rowsFailed > maxErrorRate * attempted;
}

export function describeErrorRate(
  c: Pick<JobCounters, 'rowsDone' | 'rowsFailed' | 'rowsConflicted'>,
  maxErrorRate: number,
): string {
  const attempted = attemptedRows(c);
  const pct = (x: number): string => `${(x * 100).toFixed(2).replace(/\.?0+$/, '')} %`;
  return `${c.rowsFailed} of ${attempted} rows failed (${pct(c.rowsFailed / Math.max(attempted, 1))}), above the maximum error rate of ${pct(maxErrorRate)}`;
}
