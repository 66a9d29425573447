/**
 * The lifecycle of a re-encryption job. The database enforces the same
 * transitions with a trigger (migration 0002); a unit test keeps both equal.
 *
 *   pending → planning → running → verifying → completed | completed_with_errors
 *   planning → completed                 (dry run: nothing is written)
 *   any live state → failed | aborted    (aborted: failed rows passed maxErrorRate)
 *   failed → planning | running          (resume after a crash or an outage)
 */
export const JOB_STATUSES = [
  'pending',
  'planning',
  'running',
  'verifying',
  'completed',
  'completed_with_errors',
  'failed',
  'aborted',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  pending: ['planning', 'failed', 'aborted'],
  planning: ['running', 'completed', 'failed', 'aborted'],
  running: ['verifying', 'failed', 'aborted'],
  verifying: ['completed', 'completed_with_errors', 'failed'],
  completed: [],
  completed_with_errors: [],
  failed: ['planning', 'running'],
  aborted: [],
};

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'completed_with_errors', 'aborted'];

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const BATCH_STATUSES = ['pending', 'running', 'done', 'failed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];
