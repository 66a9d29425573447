import {
  JOB_STATUSES,
  JOB_TRANSITIONS,
  canTransition,
  isTerminal,
} from '../../../../functions/core/reencrypt/jobs/job-status';
import { allowedTransitions } from '../../../../functions/core/schema/migrations/0002_reencryption_jobs';

describe('job lifecycle', () => {
  it('the database trigger allows exactly the transitions the code knows', () => {
    const code = JOB_STATUSES.flatMap((from) => JOB_TRANSITIONS[from].map((to) => `${from}->${to}`)).sort();
    const sql = allowedTransitions.map(([from, to]) => `${from}->${to}`).sort();
    expect(sql.length).toBeGreaterThan(10);
    expect(sql).toEqual(code);
  });

  it('never lets a finished job run again', () => {
    for (const done of ['completed', 'completed_with_errors', 'aborted'] as const) {
      expect(isTerminal(done)).toBe(true);
      for (const to of JOB_STATUSES) expect(canTransition(done, to)).toBe(false);
    }
    expect(canTransition('failed', 'running')).toBe(true);
    expect(canTransition('running', 'completed')).toBe(false);
  });
});
